// The OpenPGP command-line contract: import what gpg exports, name keys by fingerprint or key id in `users set --pgp`.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { type Gpg, makeGpg } from './helpers/gpg.js';

let work: string;
let dataDir: string;
let gpg: Gpg;
let fpr: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-pgp-cli-'));
  dataDir = join(work, 'data');
  gpg = await makeGpg(work, 'bank');
  fpr = await gpg.generate('Bank <bank@example.com>');
  await writeFile(join(work, 'bank.asc'), await gpg.exportPublic(fpr));
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const add = await runFerry(['users', 'add', 'alice', '--data-dir', dataDir]);
  assert.equal(add.code, 0, add.stderr);
});

after(async () => {
  await gpg?.dispose();
  await rm(work, { recursive: true, force: true });
});

test('a key gpg exported is imported, listed, and named in policies by fingerprint (any case) or key id', async () => {
  const imported = await runFerry(['keys', 'pgp', 'import', join(work, 'bank.asc'), '--data-dir', dataDir]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, new RegExp(fpr));
  const again = await runFerry([
    'keys',
    'pgp',
    'import',
    join(work, 'bank.asc'),
    '--name',
    'bank',
    '--data-dir',
    dataDir,
  ]);
  assert.notEqual(again.code, 0, 'one fingerprint, one key');
  assert.match(again.stderr, new RegExp(`${fpr} is already stored as ${fpr.slice(-16)}`));
  const listed = await runFerry(['keys', 'pgp', 'list', '--json', '--data-dir', dataDir]);
  const [key] = JSON.parse(listed.stdout) as { name: string; fingerprint: string; keyId: string }[];
  assert.equal(key?.fingerprint, fpr);
  const generated = await runFerry([
    'keys',
    'pgp',
    'generate',
    'ferry',
    '--email',
    'ferry@example.com',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(generated.code, 0, generated.stderr);

  const set = await runFerry([
    'users',
    'set',
    'alice',
    '--data-dir',
    dataDir,
    '--pgp',
    `/out=encrypt:${fpr.toLowerCase()};sign:ferry;armor`,
    '--pgp',
    `/in=decrypt;verify:${key?.keyId}`,
  ]);
  assert.equal(set.code, 0, set.stderr);
  const shown = await runFerry(['users', 'show', 'alice', '--data-dir', dataDir]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`/out=encrypt:${fpr};sign:[0-9A-F]{40};armor`));
  assert.match(shown.stdout, new RegExp(`/in=decrypt;verify:${fpr}`));

  const removed = await runFerry(['users', 'set', 'alice', '--pgp', '/in=none', '--data-dir', dataDir]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.doesNotMatch(removed.stdout, /\/in=decrypt/);
  assert.match(removed.stdout, /\/out=encrypt/);
});

test('a policy naming a missing key, or signing with a public-only key, is refused and changes nothing', async () => {
  const before = (await runFerry(['users', 'show', 'alice', '--json', '--data-dir', dataDir])).stdout;
  const missing = await runFerry([
    'users',
    'set',
    'alice',
    '--pgp',
    `/x=encrypt:${'A'.repeat(40)}`,
    '--data-dir',
    dataDir,
  ]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no OpenPGP key named A{40}/);
  const publicOnly = await runFerry([
    'users',
    'set',
    'alice',
    '--pgp',
    `/x=encrypt:ferry;sign:${fpr}`,
    '--data-dir',
    dataDir,
  ]);
  assert.notEqual(publicOnly.code, 0);
  assert.match(publicOnly.stderr, /has no private half, so Ferry cannot sign/);
  const badSpec = await runFerry(['users', 'set', 'alice', '--pgp', 'x=encrypt', '--data-dir', dataDir]);
  assert.notEqual(badSpec.code, 0);
  assert.match(badSpec.stderr, /folder must start with '\/'/);
  const after = (await runFerry(['users', 'show', 'alice', '--json', '--data-dir', dataDir])).stdout;
  assert.deepEqual(JSON.parse(after).pgpPolicies, JSON.parse(before).pgpPolicies);
});

test('jobs add takes --encrypt-to/--sign-with on push and --decrypt/--verify on pull, and refuses them the other way round', async () => {
  const partner = await runFerry(
    [
      'partners',
      'add',
      'bank',
      '--host',
      '127.0.0.1',
      '--user',
      'acme',
      '--password-stdin',
      '--data-dir',
      dataDir,
    ],
    'pw\n',
  );
  assert.equal(partner.code, 0, partner.stderr);
  const common = [
    '--partner',
    'bank',
    '--remote-dir',
    'in',
    '--local-dir',
    join(work, 'jobdir'),
    '--data-dir',
    dataDir,
  ];
  const push = await runFerry([
    'jobs',
    'add',
    'inv',
    '--direction',
    'push',
    ...common,
    '--encrypt-to',
    fpr.slice(-16),
    '--sign-with',
    'ferry',
    '--armor',
  ]);
  assert.equal(push.code, 0, push.stderr);
  const pull = await runFerry([
    'jobs',
    'add',
    'stm',
    '--direction',
    'pull',
    ...common,
    '--decrypt',
    '--verify',
    fpr.toLowerCase(),
  ]);
  assert.equal(pull.code, 0, pull.stderr);
  const wrong = await runFerry(['jobs', 'add', 'bad', '--direction', 'pull', ...common, '--encrypt-to', fpr]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /--encrypt-to, --sign-with and --armor are for push jobs/);
  const listed = await runFerry(['jobs', 'list', '--json', '--data-dir', dataDir]);
  const jobs = JSON.parse(listed.stdout) as { name: string; pgp?: Record<string, unknown> }[];
  assert.deepEqual(
    jobs.map((j) => j.name),
    ['inv', 'stm'],
  );
  assert.deepEqual(jobs[0]?.pgp?.encryptTo, [fpr]);
  assert.match(String(jobs[0]?.pgp?.signWith), /^[0-9A-F]{40}$/);
  assert.equal(jobs[0]?.pgp?.armor, true);
  assert.deepEqual(jobs[1]?.pgp, { decrypt: true, verifyWith: [fpr] });

  // jobs set replaces or removes the step, with the same checks.
  const refused = await runFerry(['jobs', 'set', 'inv', '--decrypt', '--data-dir', dataDir]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /--decrypt and --verify are for pull jobs/);
  const cleared = await runFerry(['jobs', 'set', 'inv', '--no-pgp', '--data-dir', dataDir]);
  assert.equal(cleared.code, 0, cleared.stderr);
  const replaced = await runFerry(['jobs', 'set', 'stm', '--decrypt', '--data-dir', dataDir]);
  assert.equal(replaced.code, 0, replaced.stderr);
  const after = JSON.parse((await runFerry(['jobs', 'list', '--json', '--data-dir', dataDir])).stdout) as {
    pgp?: unknown;
  }[];
  assert.deepEqual(
    after.map((j) => j.pgp),
    [undefined, { decrypt: true }],
  );
});
