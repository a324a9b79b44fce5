import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalFs } from './local-fs.js';

async function scratch(t: { after: (fn: () => unknown) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-local-root-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a missing home is made (0700, parents too) at the first operation when the backend may create it', async (t) => {
  const home = join(await scratch(t), 'homes', 'alice');
  const fs = new LocalFs({ root: home, createRoot: true });
  t.after(() => fs.dispose());
  await fs.mkdir('/in', { mode: 0o755 });
  assert.equal((await stat(home)).mode & 0o777, 0o700);
  assert.ok((await stat(join(home, 'in'))).isDirectory());
});

test('an existing home is opened as it is: its mode and contents stay', async (t) => {
  const home = join(await scratch(t), 'bob');
  await mkdir(home);
  await chmod(home, 0o750);
  await writeFile(join(home, 'kept.txt'), 'x');
  const fs = new LocalFs({ root: home, createRoot: true });
  t.after(() => fs.dispose());
  assert.equal((await fs.stat('/kept.txt')).size, 1);
  assert.equal((await stat(home)).mode & 0o777, 0o750);
});

test('a home that is not a directory, or missing where the backend may not create it, fails and makes nothing', async (t) => {
  const dir = await scratch(t);
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  const onFile = new LocalFs({ root: file, createRoot: true });
  t.after(() => onFile.dispose());
  // Said as it is (before: 'file already exists', from the mkdir of an existing name).
  await assert.rejects(onFile.stat('/'), { code: 'ERR_NOT_A_DIRECTORY' });
  const missing = join(dir, 'missing');
  const readOnly = new LocalFs({ root: missing });
  t.after(() => readOnly.dispose());
  await assert.rejects(readOnly.stat('/'), { code: 'ERR_NOT_FOUND' });
  await assert.rejects(stat(missing), { code: 'ENOENT' });
  // Made once it may be: the failed attempt did not stick.
  const later = new LocalFs({ root: missing, createRoot: true });
  t.after(() => later.dispose());
  assert.equal((await later.stat('/')).kind, 'directory');
});
