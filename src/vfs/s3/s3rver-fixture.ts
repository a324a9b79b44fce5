// Test-only: a real S3-compatible server (s3rver) on an ephemeral loopback port, with one bucket, in a temp dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3ClientOf } from './client.js';

export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  /**
   * Where s3rver keeps the bucket (tests may watch multipart parts arrive there: `<bucket>/<…>uploads/<id>/<n>`).
   * AbortMultipartUpload, which s3rver lacks, is added: it removes the upload's directory like S3 frees its parts.
   */
  readonly directory: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  client(): S3Client;
  /** With `logRequests`: the requests served so far, as `METHOD URL STATUS`. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

/** s3rver accepts any signature made with these (its documented default key pair). */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * Runs in its own process: s3rver encrypts listing continuation tokens with DES, which OpenSSL 3 offers only
 * with the legacy provider (a flag of the process, not of a call). It exits when its stdin closes, so a test
 * that dies never leaves it behind.
 */
const MAIN = `
const S3rver = require(process.env.S3RVER_PATH);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: process.env.S3RVER_LOG !== '1',
  directory: process.env.S3RVER_DIR, vhostBuckets: false, configureBuckets: [{ name: process.env.S3RVER_BUCKET }] });
// s3rver lacks AbortMultipartUpload (DELETE ?uploadId=… answers 405): done here as S3 does it, the upload's parts
// freed, NoSuchUpload (404) for an upload that is not there.
const fs = require('node:fs');
server.middleware.unshift(async (ctx, next) => {
  const id = ctx.method === 'DELETE' ? new URLSearchParams(ctx.querystring).get('uploadId') : null;
  if (id === null || !ctx.path.startsWith('/' + process.env.S3RVER_BUCKET + '/')) return next();
  const dir = require('node:path').join(server.store.getResourcePath(process.env.S3RVER_BUCKET, undefined, 'uploads'), id);
  if (!/^[0-9a-f]+$/.test(id) || !fs.existsSync(dir)) {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  ctx.status = 204;
});
// Opt-in: every request's method, URL and status, one a line (tests check which parts were sent by whom).
if (process.env.S3RVER_REQUEST_LOG) {
  server.middleware.unshift(async (ctx, next) => {
    try {
      await next();
    } finally {
      fs.appendFileSync(process.env.S3RVER_REQUEST_LOG, ctx.method + ' ' + ctx.url + ' ' + ctx.status + '\\n');
    }
  });
}
server.run().then((a) => process.stdout.write('port ' + a.port + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export async function startS3rver(
  bucket = 'ferry-test',
  options: { logRequests?: boolean } = {},
): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'ferry-s3rver-'));
  const requestLog = options.logRequests ? `${directory}.requests` : undefined;
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '-e', MAIN], {
    env: {
      ...process.env,
      S3RVER_PATH: createRequire(import.meta.url).resolve('s3rver'),
      S3RVER_DIR: directory,
      S3RVER_BUCKET: bucket,
      ...(requestLog ? { S3RVER_REQUEST_LOG: requestLog } : {}),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    credentials: CREDENTIALS,
    client: () =>
      s3ClientOf({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: CREDENTIALS }),
    async requests() {
      if (!requestLog) throw new Error('startS3rver was not asked to log requests');
      const text = await readFile(requestLog, 'utf8').catch(() => '');
      return text.split('\n').filter((line) => line !== '');
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.stdin?.end();
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
      if (requestLog) await rm(requestLog, { force: true });
    },
  };
}
