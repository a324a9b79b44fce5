// bin/ferry.js runs the compiled and bundled dist/bundle/, and the sources through tsx (with a warning) when they are newer.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
let checkout: string;

/** A checkout in miniature: the real bin/ferry.js and node_modules, a dist/ and a src/ that say which ran. */
before(async () => {
  checkout = await mkdtemp(join(tmpdir(), 'ferry-bin-'));
  await Promise.all(
    ['bin', 'dist/bundle', 'src/cli'].map((d) => mkdir(join(checkout, d), { recursive: true })),
  );
  await copyFile(join(ROOT, 'bin', 'ferry.js'), join(checkout, 'bin', 'ferry.js'));
  await symlink(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
  await writeFile(join(checkout, 'package.json'), '{ "type": "module" }\n');
  await writeFile(join(checkout, 'dist', 'bundle', 'main.js'), "process.stdout.write('compiled\\n');\n");
  await writeFile(join(checkout, 'src', 'main.ts'), "const ran: string = 'sources';\nconsole.log(ran);\n");
  await writeFile(join(checkout, 'src', 'cli', 'serve.test.ts'), '');
});
after(() => rm(checkout, { recursive: true, force: true }));

async function setTimes(times: Record<string, number>): Promise<void> {
  for (const [file, seconds] of Object.entries(times)) await utimes(join(checkout, file), seconds, seconds);
}

function runBin(env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(checkout, 'bin', 'ferry.js')],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
    );
  });
}

test('a build newer than every source runs dist/ and says nothing', async () => {
  await setTimes({ 'src/main.ts': 1000, 'src/cli/serve.test.ts': 1000, 'dist/bundle/main.js': 2000 });
  assert.deepEqual(await runBin(), { stdout: 'compiled\n', stderr: '' });
});

test('an edited test file does not make the build stale: tests are not part of it', async () => {
  await setTimes({ 'src/main.ts': 1000, 'src/cli/serve.test.ts': 3000, 'dist/bundle/main.js': 2000 });
  assert.equal((await runBin()).stdout, 'compiled\n');
});

test('a source edited after the build runs through tsx, with a warning naming the file', async () => {
  await setTimes({ 'src/main.ts': 3000, 'src/cli/serve.test.ts': 1000, 'dist/bundle/main.js': 2000 });
  const { stdout, stderr } = await runBin();
  assert.equal(stdout, 'sources\n');
  assert.match(stderr, /src\/main\.ts is newer than dist\/.*npm run build/);
  assert.equal((await runBin({ FERRY_SKIP_BUILD_CHECK: '1' })).stdout, 'compiled\n');
});
