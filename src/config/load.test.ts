import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';
import { CONFIG_SETTINGS, envNameOf, SERVE_FLAGS } from './schema.js';

test('defaults are the embedded quick-start values', () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.sftpPort, 2222);
  assert.equal(config.listen, '0.0.0.0');
  assert.equal(config.dataDir, resolve('./data'));
  assert.equal(config.algorithms, 'modern');
  assert.equal(config.loginGraceTime, 60);
  assert.equal(config.maxAuthTries, 6);
  assert.ok(Object.isFrozen(config));
});

test('flags beat environment, which beats the config file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  try {
    const file = join(dir, 'ferry.json');
    await writeFile(file, JSON.stringify({ sftpPort: 3000, listen: '127.0.0.1', maxAuthTries: 3 }));
    const config = loadConfig({
      file,
      env: { FERRY_SFTP_PORT: '4000', FERRY_MAX_AUTH_TRIES: '4' },
      flags: { sftpPort: '5000' },
    });
    assert.equal(config.sftpPort, 5000);
    assert.equal(config.maxAuthTries, 4);
    assert.equal(config.listen, '127.0.0.1');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('environment variable names follow FERRY_<KEY>', () => {
  assert.equal(envNameOf('sftpPort'), 'FERRY_SFTP_PORT');
  assert.equal(envNameOf('dataDir'), 'FERRY_DATA_DIR');
  assert.equal(loadConfig({ env: { FERRY_LOGIN_GRACE_TIME: '5' } }).loginGraceTime, 5);
});

test('a bad value stops start-up with a message naming the key and its origin', () => {
  assert.throws(
    () => loadConfig({ env: { FERRY_SFTP_PORT: 'seventy' } }),
    (err: unknown) =>
      err instanceof ConfigError && /sftpPort/.test(err.message) && /FERRY_SFTP_PORT/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ env: {}, flags: { sftpPort: 70000 } }),
    (err: unknown) =>
      err instanceof ConfigError && /sftpPort/.test(err.message) && /command line/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ env: {}, flags: { algorithms: 'weak' } }),
    (err: unknown) => err instanceof ConfigError && /algorithms/.test(err.message),
  );
});

test('unknown keys and broken files in the config file are refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  try {
    const unknown = join(dir, 'unknown.json');
    await writeFile(unknown, JSON.stringify({ sftpPrt: 22 }));
    assert.throws(
      () => loadConfig({ file: unknown, env: {} }),
      (err: unknown) => err instanceof ConfigError && /sftpPrt/.test(err.message),
    );
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "sftpPort": ');
    assert.throws(
      () => loadConfig({ file: broken, env: {} }),
      (err: unknown) => err instanceof ConfigError && /not valid JSON/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ file: join(dir, 'missing.json'), env: {} }),
      (err: unknown) => err instanceof ConfigError && /cannot read/.test(err.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('messages say what to type, never "received NaN"', () => {
  const problem = (env: NodeJS.ProcessEnv) => {
    try {
      loadConfig({ env });
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };
  assert.equal(
    problem({ FERRY_SFTP_PORT: 'abc' }),
    "invalid configuration: sftpPort: must be a whole number, got 'abc' (from environment FERRY_SFTP_PORT)",
  );
  assert.match(problem({ FERRY_MAX_AUTH_TRIES: '2.5' }), /maxAuthTries: must be a whole number, got '2\.5'/);
  assert.match(problem({ FERRY_DEFENDER_ENABLED: 'maybe' }), /defenderEnabled: must be true or false/);
  assert.match(
    problem({ FERRY_LOG_LEVEL: 'loud' }),
    /^invalid configuration: logLevel: .*FERRY_LOG_LEVEL\)$/,
  );
});

test('store.url chooses the store driver: sqlite paths resolve, postgres URLs stay secret, others are refused', () => {
  const dataDir = resolve('/srv/ferry');
  assert.deepEqual(loadConfig({ env: { FERRY_DATA_DIR: dataDir } }).store, {
    driver: 'sqlite',
    path: join(dataDir, 'ferry.db'),
  });
  assert.deepEqual(loadConfig({ env: { FERRY_STORE_URL: 'sqlite:///var/db/f.db' } }).store, {
    driver: 'sqlite',
    path: '/var/db/f.db',
  });
  assert.deepEqual(loadConfig({ env: {}, flags: { store: { url: 'sqlite:rel.db' } } }).store, {
    driver: 'sqlite',
    path: resolve('rel.db'),
  });
  const pg = loadConfig({ env: { FERRY_STORE_URL: 'postgres://ferry:pw@db/ferry' } }).store;
  assert.equal(pg.driver, 'postgres');
  assert.ok(!JSON.stringify(pg).includes('pw'), 'the URL (and its password) never reaches a log');
  assert.throws(
    () => loadConfig({ env: { FERRY_STORE_URL: 'mysql://db' } }),
    (err: Error) =>
      err instanceof ConfigError && /store\.url: must be sqlite:<path>.*FERRY_STORE_URL/.test(err.message),
  );
});

test('storage is a union on its backend, set from the file or FERRY_STORAGE_BACKEND', () => {
  const plain = {
    backend: 'local',
    encryption: { enabled: false, plaintextFiles: 'read', cipher: 'auto' },
    metadataCalls: 'auto',
  };
  assert.deepEqual(loadConfig({ env: {} }).storage, plain);
  assert.deepEqual(loadConfig({ env: { FERRY_STORAGE_BACKEND: 'local' } }).storage, plain);
  assert.deepEqual(loadConfig({ env: { FERRY_STORAGE_METADATA_CALLS: 'pool' } }).storage, {
    ...plain,
    metadataCalls: 'pool',
  });
  assert.throws(
    () => loadConfig({ env: { FERRY_STORAGE_METADATA_CALLS: 'sometimes' } }),
    (err: Error) =>
      err instanceof ConfigError &&
      /storage\.metadataCalls: .*FERRY_STORAGE_METADATA_CALLS/.test(err.message) &&
      !err.message.includes('\n'),
  );
  assert.throws(
    () => loadConfig({ env: { FERRY_STORAGE_BACKEND: 'ftp' } }),
    (err: Error) =>
      err instanceof ConfigError && /storage\.backend: .*FERRY_STORAGE_BACKEND/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ env: { FERRY_STORAGE_BACKEND: 's3' } }),
    (err: Error) => err instanceof ConfigError && /storage\.bucket: /.test(err.message),
  );
  const s3 = { FERRY_STORAGE_BACKEND: 's3', FERRY_STORAGE_BUCKET: 'ferry-homes' };
  assert.deepEqual(loadConfig({ env: { ...s3, FERRY_STORAGE_FORCE_PATH_STYLE: 'true' } }).storage, {
    backend: 's3',
    bucket: 'ferry-homes',
    prefix: '',
    region: 'us-east-1',
    forcePathStyle: true,
    abandonedUploadHours: 24,
    encryption: { enabled: false, plaintextFiles: 'read', cipher: 'auto' },
  });
  assert.equal(
    (
      loadConfig({ env: { ...s3, FERRY_STORAGE_ABANDONED_UPLOAD_HOURS: '0.5' } }).storage as {
        abandonedUploadHours: number;
      }
    ).abandonedUploadHours,
    0.5,
  );
  for (const [bad, field] of [
    [{ FERRY_STORAGE_BUCKET: 'No_Such/Bucket' }, 'bucket'],
    [{ FERRY_STORAGE_PREFIX: 'a/../b' }, 'prefix'],
    [{ FERRY_STORAGE_ENDPOINT: 'file:///etc' }, 'endpoint'],
    [{ FERRY_STORAGE_ENCRYPTION: 'true' }, 'encryption'],
    [{ FERRY_STORAGE_ABANDONED_UPLOAD_HOURS: '0' }, 'abandonedUploadHours'],
  ] as const) {
    assert.throws(
      () => loadConfig({ env: { ...s3, ...bad } }),
      (err: Error) => err instanceof ConfigError && new RegExp(`storage\\.${field}: `).test(err.message),
      field,
    );
  }
});

test("the README's configuration reference has every serve flag of the one table, and no other", async () => {
  const readme = await readFile(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const rows = new Map(
    [...readme.matchAll(/^\| `([\w.]+)` \| (`--[\w-]+`|–) \| `(FERRY_\w+)` \|/gm)].map((m) => [
      m[1]!,
      { flag: m[2]!.replaceAll('`', ''), env: m[3]! },
    ]),
  );
  for (const { setting, flag } of SERVE_FLAGS) {
    assert.equal(rows.get(setting)?.flag, flag, `README row of ${setting}`);
  }
  const flagged = new Set(SERVE_FLAGS.map((f) => f.setting));
  for (const [setting, row] of rows) {
    assert.ok(CONFIG_SETTINGS.includes(setting), `README names an unknown setting ${setting}`);
    assert.equal(row.env, envNameOf(setting), `README environment variable of ${setting}`);
    if (!flagged.has(setting))
      assert.equal(row.flag, '–', `README gives ${setting} a flag serve does not have`);
  }
});

test('smtp is set from FERRY_SMTP_* variables, the password only from the environment', async () => {
  const config = loadConfig({
    env: {
      FERRY_SMTP_HOST: '127.0.0.1',
      FERRY_SMTP_PORT: '2525',
      FERRY_SMTP_FROM: 'ferry@example.com',
      FERRY_SMTP_PASSWORD: 'hunter2',
    },
  });
  assert.equal(config.smtp.host, '127.0.0.1');
  assert.equal(config.smtp.port, 2525);
  assert.equal(config.smtp.from, 'ferry@example.com');
  assert.equal(config.smtp.password?.reveal(), 'hunter2');
  assert.ok(!JSON.stringify(config.smtp).includes('hunter2'), 'the password never reaches a log');
  assert.equal(loadConfig({ env: {} }).smtp.secure, false);
  assert.throws(
    () => loadConfig({ env: { FERRY_SMTP_PORT: 'twenty-five' } }),
    (err: Error) =>
      err instanceof ConfigError &&
      err.message ===
        "invalid configuration: smtp.port: must be a whole number, got 'twenty-five' (from environment FERRY_SMTP_PORT)",
  );
  const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  try {
    const file = join(dir, 'ferry.json');
    await writeFile(file, JSON.stringify({ smtp: { host: 'localhost', password: 'in-a-file' } }));
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (err: Error) =>
        err instanceof ConfigError && /smtp\.password: give it as FERRY_SMTP_PASSWORD/.test(err.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plain SMTP goes only to loopback; TLS (implicit or required STARTTLS) to anywhere', () => {
  for (const host of ['localhost', '127.0.0.1', '::1', '[::1]']) {
    assert.equal(loadConfig({ env: { FERRY_SMTP_HOST: host } }).smtp.host, host);
  }
  assert.throws(
    () => loadConfig({ env: { FERRY_SMTP_HOST: 'mail.example.com' } }),
    (err: Error) =>
      err instanceof ConfigError &&
      /^invalid configuration: smtp\.host: plain SMTP \(no TLS\) is allowed only to a loopback host .*FERRY_SMTP_HOST\)$/.test(
        err.message,
      ),
  );
  assert.equal(
    loadConfig({ env: { FERRY_SMTP_HOST: 'mail.example.com', FERRY_SMTP_SECURE: 'true' } }).smtp.secure,
    true,
  );
  assert.equal(
    loadConfig({ env: { FERRY_SMTP_HOST: 'mail.example.com', FERRY_SMTP_STARTTLS: 'required' } }).smtp
      .starttls,
    'required',
  );
});

test('command actions are off unless rules.commands is turned on', () => {
  assert.equal(loadConfig({ env: {} }).rules.commands, false);
  assert.equal(loadConfig({ env: { FERRY_RULES_COMMANDS: 'true' } }).rules.commands, true);
  assert.throws(
    () => loadConfig({ env: { FERRY_RULES_COMMANDS: 'perhaps' } }),
    (err: Error) => err instanceof ConfigError && /rules\.commands: must be true or false/.test(err.message),
  );
});

test('storage encryption is on from FERRY_STORAGE_ENCRYPTION, the serve flag or the file', async (t) => {
  const on = { enabled: true, plaintextFiles: 'read', cipher: 'auto' };
  assert.deepEqual(loadConfig({ env: { FERRY_STORAGE_ENCRYPTION: 'true' } }).storage.encryption, on);
  assert.deepEqual(loadConfig({ env: {}, flags: { storage: { encryption: true } } }).storage.encryption, on);
  const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ferry.json');
  await writeFile(
    file,
    JSON.stringify({ storage: { encryption: { enabled: true, plaintextFiles: 'refuse' } } }),
  );
  assert.deepEqual(loadConfig({ env: {}, file }).storage, {
    backend: 'local',
    encryption: { enabled: true, plaintextFiles: 'refuse', cipher: 'auto' },
    metadataCalls: 'auto',
  });
  // The flag or variable turns it on and keeps what the file says of it (its cipher, its plain files).
  await writeFile(
    file,
    JSON.stringify({ storage: { encryption: { plaintextFiles: 'refuse', cipher: 'chacha20-poly1305' } } }),
  );
  const fromFile = { enabled: true, plaintextFiles: 'refuse', cipher: 'chacha20-poly1305' };
  assert.deepEqual(
    loadConfig({ env: {}, file, flags: { storage: { encryption: true } } }).storage.encryption,
    fromFile,
  );
  assert.deepEqual(
    loadConfig({ env: { FERRY_STORAGE_ENCRYPTION: 'yes' }, file }).storage.encryption,
    fromFile,
  );
  assert.equal(
    loadConfig({ env: { FERRY_STORAGE_ENCRYPTION: 'off' }, file }).storage.encryption.enabled,
    false,
  );
  await writeFile(file, JSON.stringify({ storage: { encryption: { cipher: 'des' } } }));
  assert.throws(
    () => loadConfig({ env: {}, file }),
    (err: Error) => err instanceof ConfigError && /storage\.encryption/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ env: { FERRY_STORAGE_ENCRYPTION: 'maybe' } }),
    (err: Error) =>
      err instanceof ConfigError && /storage\.encryption.*FERRY_STORAGE_ENCRYPTION/.test(err.message),
  );
});

test('proxyProtocolFrom takes CIDRs from the flag or the environment and refuses anything else; drainTimeout 30 s', () => {
  const defaults = loadConfig({ env: {} });
  assert.deepEqual(defaults.proxyProtocolFrom, []);
  assert.equal(defaults.drainTimeout, 30);
  const env = loadConfig({ env: { FERRY_PROXY_PROTOCOL_FROM: '10.0.0.5/32, 2001:db8::/64' } });
  assert.deepEqual(env.proxyProtocolFrom, ['10.0.0.5/32', '2001:db8::/64']);
  assert.equal(loadConfig({ env: {}, flags: { drainTimeout: '0' } }).drainTimeout, 0);
  assert.throws(
    () => loadConfig({ env: {}, flags: { proxyProtocolFrom: '10.0.0.5/33' } }),
    (err) => err instanceof ConfigError && /proxyProtocolFrom: must be CIDRs/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ env: { FERRY_DRAIN_TIMEOUT: '-1' } }),
    (err) => err instanceof ConfigError && /drainTimeout/.test(err.message),
  );
});

test('passwordPolicy is off by default and set from a file or FERRY_PASSWORD_POLICY_*; a bad rule is refused', async () => {
  assert.deepEqual(loadConfig({ env: {} }).passwordPolicy, {
    minLength: 0,
    minClasses: 0,
    minEntropyBits: 0,
    history: 0,
    maxAgeDays: 0,
  });
  const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  try {
    const file = join(dir, 'ferry.json');
    await writeFile(file, JSON.stringify({ passwordPolicy: { minLength: 12, history: 5 } }));
    const config = loadConfig({ file, env: { FERRY_PASSWORD_POLICY_MAX_AGE_DAYS: '90' } });
    assert.deepEqual(config.passwordPolicy, {
      minLength: 12,
      minClasses: 0,
      minEntropyBits: 0,
      history: 5,
      maxAgeDays: 90,
    });
    assert.equal(
      loadConfig({ env: { FERRY_PASSWORD_POLICY_MIN_ENTROPY_BITS: '60' } }).passwordPolicy.minEntropyBits,
      60,
    );
    assert.throws(
      () => loadConfig({ env: { FERRY_PASSWORD_POLICY_MIN_CLASSES: '5' } }),
      (err: unknown) => err instanceof ConfigError && /passwordPolicy\.minClasses/.test(err.message),
    );
    await writeFile(file, JSON.stringify({ passwordPolicy: { minEntropy: 3 } }));
    assert.throws(() => loadConfig({ file, env: {} }), ConfigError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
