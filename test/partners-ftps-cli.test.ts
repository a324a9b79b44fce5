// `ferry partners` and `ferry jobs` with an FTPS partner (Debian's vsftpd), as an operator types them: the protocol
// and its default port, the certificate trusted by fingerprint (refused when it differs), show, test and a run.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { randomFile, sha256File } from './helpers/transfers.js';
import { startVsftpd } from './helpers/vsftpd.js';

test('ferry partners and jobs over FTPS from the command line: add, trust by fingerprint, show, test, run', async () => {
  const v = await startVsftpd();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-ftps-cli-'));
  try {
    const data = ['--data-dir', join(dir, 'data')];
    assert.equal((await runFerry(['init', ...data])).code, 0);
    const add = await runFerry(
      [
        'partners',
        'add',
        'legacy',
        '--protocol',
        'ftps',
        '--host',
        '127.0.0.1',
        '--port',
        String(v.port),
        '--user',
        'anonymous',
        '--password-stdin',
        ...data,
      ],
      'ferry@example.com\n',
    );
    assert.equal(add.code, 0, add.stderr);
    assert.match(
      add.stdout,
      /partner legacy added \(ftps anonymous@127\.0\.0\.1:\d+\); next: ferry partners trust legacy/,
    );
    const refused = await runFerry([
      'partners',
      'add',
      'x',
      '--protocol',
      'ftps',
      '--host',
      'h',
      '--user',
      'u',
      '--client-key',
      'k',
      ...data,
    ]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /FTPS partner logs in with a password/);

    const wrong = '00'.repeat(32);
    const mismatch = await runFerry(['partners', 'trust', 'legacy', '--fingerprint', wrong, ...data]);
    assert.equal(mismatch.code, 1);
    assert.match(
      mismatch.stderr,
      new RegExp(
        `the server presents ${v.fingerprint}, not ${wrong.match(/../g)!.join(':')}: TLS certificate NOT trusted`,
      ),
    );
    const malformed = await runFerry(['partners', 'trust', 'legacy', '--fingerprint', 'SHA256:abc', ...data]);
    assert.equal(malformed.code, 2);
    // The fingerprint as openssl prints it, or lower case without colons: the same certificate.
    const trust = await runFerry([
      'partners',
      'trust',
      'legacy',
      '--fingerprint',
      v.fingerprint.replaceAll(':', '').toLowerCase(),
      ...data,
    ]);
    assert.equal(trust.code, 0, trust.stderr);
    assert.match(trust.stdout, new RegExp(`partner legacy: certificate ${v.fingerprint} trusted`));
    const show = await runFerry(['partners', 'show', 'legacy', ...data]);
    assert.match(show.stdout, /protocol: +ftps/);
    assert.match(show.stdout, new RegExp(`certificate: +x509 ${v.fingerprint}`));
    const tested = await runFerry(['partners', 'test', 'legacy', ...data]);
    assert.equal(tested.code, 0, tested.stderr);
    assert.match(tested.stdout, /server: +\(vsFTPd 3\.0\.3\)/);
    assert.match(tested.stdout, /tls: +TLSv1\.3, TLS_AES_/);
    assert.match(tested.stdout, /SHA-256 on server: no/);

    const outbox = join(dir, 'out');
    await mkdir(outbox);
    const sum = await randomFile(join(outbox, 'report.csv'), 70_000);
    const job = await runFerry([
      'jobs',
      'add',
      'send',
      '--partner',
      'legacy',
      '--direction',
      'push',
      '--remote-dir',
      '/pub',
      '--local-dir',
      outbox,
      ...data,
    ]);
    assert.equal(job.code, 0, job.stderr);
    const run = await runFerry(['jobs', 'run', 'send', ...data]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(await sha256File(join(v.pub, 'report.csv')), sum);
  } finally {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  }
});
