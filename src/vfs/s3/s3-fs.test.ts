// Runs the Fs contract against the S3 backend on a real S3-compatible server (s3rver), a fresh prefix per test.
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { runFsContract } from '../contract.js';
import { S3Fs } from './s3-fs.js';
import { type S3Server, startS3rver } from './s3rver-fixture.js';

let server: S3Server;
let client: S3Client;
before(async () => {
  server = await startS3rver();
  client = server.client();
});
after(async () => {
  client.destroy();
  await server.stop();
});

runFsContract('s3 (s3rver)', async () => {
  // A small listing page makes the streaming-listing test exercise many pages.
  const fs = new S3Fs({ client, bucket: server.bucket, prefix: `t-${randomUUID()}`, dirBatchSize: 100 });
  await fs.mkdir('/root');
  return { fs, root: '/root', cleanup: async () => undefined };
});
