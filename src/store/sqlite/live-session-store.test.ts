// Cluster sessions, upload claims, the defender's lists, S3 upload records, web sessions and transfer quota counters on SQLite: the shared contracts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDefenderListContract } from '../defender-list-contract-fixture.js';
import { runLiveSessionContract } from '../live-session-contract-fixture.js';
import { runS3UploadContract } from '../s3-upload-contract-fixture.js';
import { runTransferUsageContract } from '../transfer-usage-contract-fixture.js';
import { runWebSessionContract } from '../web-session-contract-fixture.js';
import { openSqliteStore } from './sqlite-store.js';

runLiveSessionContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-live-sessions-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runDefenderListContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-defender-lists-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runS3UploadContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-s3-uploads-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runWebSessionContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-web-sessions-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runTransferUsageContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-transfer-usage-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
