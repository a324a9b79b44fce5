// The import rule has one source, the module table of docs/ARCHITECTURE.md, and `npm run depcheck` fails when code breaks it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkImports, ModuleTableError, parseModuleTable } from '../scripts/check-imports.js';

const ROOT = resolve(import.meta.dirname, '..');
const DOC = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'ferry-depcheck-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A copy of src/ to break on purpose; the real tree is never touched. */
function srcCopy(name: string): string {
  const dir = join(work, name);
  cpSync(join(ROOT, 'src'), dir, { recursive: true });
  return dir;
}

describe('the import rule of docs/ARCHITECTURE.md', () => {
  test('the checker reads its rules from the module table, row by row', () => {
    const rules = parseModuleTable(DOC);
    assert.deepEqual(rules.get('store')?.allowed, [
      'keys',
      'permission-vocabulary.ts',
      'config',
      'errors.ts',
      'logger.ts',
      'health.ts',
      'util',
    ]);
    assert.deepEqual(rules.get('cli')?.allowed, ['*']);
    assert.deepEqual(rules.get('util')?.allowed, []);
    assert.deepEqual(rules.get('health.ts')?.allowed, ['logger.ts']);
    // Every folder and root file of src/ has a row, and every row has code (the web front end has landed too).
    const present = readdirSync(join(ROOT, 'src')).filter((n) => !n.endsWith('.test.ts'));
    // Nested modules (`sftp/wire`) are folders inside a present one.
    const exists = (m: string) => present.includes(m) || existsSync(join(ROOT, 'src', m));
    const rowsWithoutCode = [...rules.keys()].filter((m) => !exists(m));
    assert.deepEqual(rowsWithoutCode.sort(), []);
    assert.deepEqual(
      present.filter((n) => !rules.has(n)),
      [],
    );
  });

  test('the source tree follows the table', () => {
    const { files, problems } = checkImports(join(ROOT, 'src'), parseModuleTable(DOC));
    assert.deepEqual(problems, []);
    assert.ok(files > 100);
  });

  test('npm run depcheck fails on an upward import (store/ reaching into core/)', () => {
    const src = srcCopy('upward');
    appendFileSync(
      join(src, 'store', 'types.ts'),
      "import type { SessionIdentity } from '../core/types.js';\n",
    );
    const run = spawnSync('npm', ['run', '--silent', 'depcheck', '--', '--src', src], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, /store\/types\.ts imports core\/types\.ts: 'store' may import only keys, /);
  });

  test('the same tree passes the command unchanged', () => {
    const run = spawnSync('npm', ['run', '--silent', 'depcheck', '--', '--src', srcCopy('clean')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /follow the table of docs\/ARCHITECTURE\.md, no cycles/);
  });

  test('tests are checked too: a test may use what is below its module, never what is above', () => {
    const rules = parseModuleTable(DOC);
    const src = srcCopy('tests');
    // core/ tests run on the local Fs (below core/), which core/ itself may not import: allowed.
    writeFileSync(
      join(src, 'core', 'below.test.ts'),
      "import { localHomeFs } from '../vfs/local/local-fs.js';\n",
    );
    // A store/ test reaching up into core/: refused.
    writeFileSync(
      join(src, 'store', 'upward.test.ts'),
      "import { createFileSession } from '../core/file-session.js';\n",
    );
    // Code that is not test code importing a fixture: refused.
    appendFileSync(
      join(src, 'sftp', 'server.ts'),
      "import { makeSessionFixture } from '../core/session-fixture.js';\n",
    );
    const { problems } = checkImports(src, rules);
    assert.deepEqual(problems.sort(), [
      'sftp/server.ts imports core/session-fixture.ts: only test code imports test code',
      "store/upward.test.ts imports core/file-session.ts: test code of 'store' may import keys, permission-vocabulary.ts, config, errors.ts, logger.ts, health.ts, util, or modules below its row",
    ]);
  });

  test('cycles between files are found, tests included', () => {
    const src = srcCopy('cycle');
    writeFileSync(join(src, 'util', 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
    writeFileSync(join(src, 'util', 'b.ts'), "import { a } from './a.js';\nexport const b = a;\n");
    const { problems } = checkImports(src, parseModuleTable(DOC));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^import cycle: util\/(a|b)\.ts → util\/(b|a)\.ts → util\/(a|b)\.ts$/);
  });

  test('the doc is the source: take an entry out of a row and the code that uses it fails', () => {
    const doc = DOC.replace('`key-manager/` (host keys), `events/`, ', '`key-manager/` (host keys), ');
    assert.notEqual(doc, DOC, 'the ssh/ row changed shape; update this test');
    const docFile = join(work, 'ARCHITECTURE.md');
    writeFileSync(docFile, doc);
    const run = spawnSync('npm', ['run', '--silent', 'depcheck', '--', '--doc', docFile], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, /^ssh\/[a-z-]+\.ts imports events\/bus\.ts: 'ssh' may import only /m);
  });

  test('a table that is not exact, or lets imports flow up, is refused', () => {
    const row =
      '| `keys/` | SSH, OpenPGP and X.509 key material: generate, parse, fingerprint, seal secrets; OpenSSH certificates (`ssh-certificate.ts`: parser and CA signature check; `ssh-certificate-writer.ts`: host certificates) and KRLs (`openssh-krl.ts`); self-signed certificates and PEM chain checks (`x509.ts`, `x509-chain.ts`) | foundation |';
    assert.ok(DOC.includes(row), 'the keys/ row changed shape; update this test');
    const refused = (replacement: string, message: RegExp) =>
      assert.throws(
        () => parseModuleTable(DOC.replace(row, replacement)),
        (err: unknown) => {
          assert.ok(err instanceof ModuleTableError);
          assert.match(err.message, message);
          return true;
        },
      );
    refused(
      '| `keys/` | key material | `store/`, foundation |',
      /`store` is not below this row \(imports flow down\)/,
    );
    refused('| `keys/` | key material | foundation and the crypto helpers |', /is not a backticked path/);
    refused('| `keys/` | key material | `kes/`, foundation |', /`kes` is in no row of the table/);
    refused('| `keys/` | key material | `keys.js`, foundation |', /neither a folder/);
    refused('| keys | key material | foundation |', /the module cell must be backticked names only/);
  });
});
