// A session whose identity carries the user's OpenPGP folder policies (a rule's session, which has just read the
// user) applies them without reading the user again; one without them reads the user at its first operation.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './config/load.js';
import { AppContext } from './context.js';
import type { SessionIdentity } from './core/types.js';

test('the OpenPGP policy layer reads the user only when the identity does not carry the policies', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pgp-identity-'));
  const ctx = await AppContext.create(
    loadConfig({ env: {}, flags: { dataDir: join(dir, 'data') } }),
    'create',
  );
  try {
    await ctx.store.users.create({ name: 'bob', permissions: { '/': ['*'] } });
    const homeDir = join(dir, 'bob');
    await mkdir(homeDir);
    let reads = 0;
    const users = ctx.store.users;
    const findByName = users.findByName.bind(users);
    users.findByName = (name: string) => {
      reads++;
      return findByName(name);
    };
    const identity: SessionIdentity = {
      sessionId: 'rule:test',
      username: 'bob',
      homeDir,
      permissions: { '/': ['*'] },
      remoteAddress: '',
      protocol: 'rule',
    };
    const firstOperation = async (given: SessionIdentity) => {
      const session = ctx.fileSessions(given);
      try {
        await session.mkdir('/in');
        await session.rmdir('/in');
      } finally {
        await session.close();
      }
    };
    await firstOperation({ ...identity, pgpPolicies: {} });
    assert.equal(reads, 0, 'the policies came with the identity: the user is not read again');
    await firstOperation(identity);
    assert.ok(reads > 0, 'without them the policy layer reads the user');
  } finally {
    await ctx.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
