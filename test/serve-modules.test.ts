// What each process of `ferry serve --workers 2` loads. The primary only forks, supervises and relays: the
// server, the store, the SSH and HTTP stacks must stay out of it, as their memory would stay for good (the
// idle-memory target, docs/PERFORMANCE.md). The workers take kysely's CommonJS build only: a value import
// from 'kysely' would load its ~260-file ES build beside it; and the S3 backend only when storage is on S3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FERRY_BIN } from './helpers/cli.js';
import { loadedModules, PRINT_LOADED_FLAGS } from './helpers/loaded-modules.js';

/**
 * What the primary takes from api/ and core/: the relay of the workers' gather requests, the HTTP API's start-up
 * line, and the shared bandwidth buckets.
 */
const PRIMARY_API = [
  'dist/api/cluster-gather.js',
  'dist/api/listen-address.js',
  // The primary numbers the workers' events, keeps the newest and relays them to the workers with readers
  // (node:cluster and the bus type only).
  'dist/api/event-relay.js',
  'dist/api/event-relay-primary.js',
  'dist/api/event-feed.js',
  // The bandwidth buckets every worker leases tokens from (a user's rate holds across workers): two small files
  // over util/token-bucket.js, no package.
  'dist/core/rate-relay.js',
  'dist/core/shared-rates.js',
];
/** Modules of Ferry's (dist/) and packages that only serving needs. */
const SERVING_ONLY = [
  /^dist\/(server|context|health)\.js$/,
  /^dist\/(api|ssh|sftp|scp|store|automation|transfers|audit|auth|key-manager|keys|vfs|core|admin)\//,
  /^node_modules\/(kysely|better-sqlite3|ssh2|fastify|@fastify|prom-client|openpgp|nodemailer|croner)\//,
];

/** The modules each process of `serve --workers 2` loaded by the time it listened, by pid, and the primary's pid. */
async function modulesByProcess(): Promise<{ primary: number; loaded: Map<number, Set<string>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-serve-modules-'));
  try {
    const child = spawn(
      process.execPath,
      [
        ...PRINT_LOADED_FLAGS,
        FERRY_BIN,
        'serve',
        '--data-dir',
        join(dir, 'data'),
        '--listen',
        '127.0.0.1',
        '--sftp-port',
        '0',
        '--http-listen',
        '127.0.0.1:0',
        '--workers',
        '2',
      ],
      { env: { ...process.env, FERRY_LOG_LEVEL: 'silent' } },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('HTTP API listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`serve exited (${code}):\n${stdout}`));
        });
      });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    return { primary: child.pid!, loaded: loadedModules(stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('serve --workers 2: the primary loads no serving code, the workers no ES build of kysely, tus server, openpgp.js nor AWS SDK', async () => {
  const { primary, loaded } = await modulesByProcess();
  const own = [...(loaded.get(primary) ?? [])];
  assert.ok(own.includes('dist/cli/serve.js'), `the hook saw the primary: ${own.join(', ')}`);
  assert.deepEqual(
    own.filter((m) => !PRIMARY_API.includes(m) && SERVING_ONLY.some((re) => re.test(m))),
    [],
    'serving modules loaded by the primary',
  );
  const workers = [...loaded].filter(([pid, mods]) => pid !== primary && mods.has('dist/api/server.js'));
  assert.equal(workers.length, 2, 'the hook saw both serving workers');
  for (const [pid, mods] of workers) {
    assert.ok(mods.has('dist/ssh/server.js'), `worker ${pid} serves SSH`);
    assert.deepEqual(
      [...mods].filter((m) => m.startsWith('node_modules/kysely/')),
      [],
      `worker ${pid} loaded kysely as ES modules`,
    );
    // The web client's tus server (~4 MB per worker) loads on the first upload, not at start.
    assert.ok(mods.has('dist/web/index.js'), `worker ${pid} serves /files`);
    assert.deepEqual(
      [...mods].filter((m) => m.startsWith('node_modules/@tus/') || m === 'dist/web/tus-store.js'),
      [],
      `worker ${pid} loaded @tus/server at start`,
    );
    // openpgp.js (~4-5 MB per worker) loads with the first OpenPGP folder's use, not at start.
    assert.deepEqual(
      [...mods].filter((m) => m.startsWith('node_modules/openpgp/')),
      [],
      `worker ${pid} loaded openpgp.js at start`,
    );
    // The AWS SDK (~13 MB per process) loads only when the storage is S3; this server stores locally.
    assert.deepEqual(
      [...mods].filter((m) => /^node_modules\/@(aws-sdk|smithy)\//.test(m) || m.startsWith('dist/vfs/s3/')),
      [],
      `worker ${pid} loaded the S3 backend with local storage`,
    );
  }
});
