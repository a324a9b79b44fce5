// Cluster sessions and upload claims on SQLite: the shared contract.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLiveSessionContract } from '../live-session-contract-fixture.js';
import { openSqliteStore } from './sqlite-store.js';

runLiveSessionContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-live-sessions-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
