// The contract of cluster sessions and upload claims every store driver passes (runLiveSessionContract).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeProcess, ProcessRef, SharedSession, Store } from './types.js';

export type LiveSessionStoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const HEARTBEAT_MS = 1000;

const nodeA: ProcessRef = { nodeId: 'node-a', runId: 'run-a', pid: 101 };
const nodeB: ProcessRef = { nodeId: 'node-b', runId: 'run-b', pid: 202 };

function registryRow(ref: ProcessRef, heartbeatSeconds: number): NodeProcess {
  return {
    ...ref,
    version: '0.1.0',
    host: 'test',
    startedAt: at(0),
    heartbeatAt: at(heartbeatSeconds),
    heartbeatMs: HEARTBEAT_MS,
    listeners: [],
    sessions: 0,
  };
}

function session(id: string, owner: ProcessRef, username = 'alice'): SharedSession {
  return {
    ...owner,
    id,
    username,
    remoteAddress: '192.0.2.7',
    protocol: 'ssh',
    client: 'SSH-2.0-OpenSSH_9.2',
    connectedAt: at(1),
    bytesUp: 0,
    bytesDown: 0,
    filesUp: 0,
    filesDown: 0,
  };
}

export function runLiveSessionContract(name: string, makeStore: LiveSessionStoreFactory): void {
  async function withNodes(run: (store: Store) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      await store.nodes.register(registryRow(nodeA, 0), 3000, at(0));
      await store.nodes.register(registryRow(nodeB, 0), 3000, at(0));
      await run(store);
    } finally {
      await store.close();
      await cleanup();
    }
  }

  test(`${name}: a user's sessions are counted across nodes, up to the limit`, () =>
    withNodes(async (store) => {
      const s = store.liveSessions;
      assert.equal(await s.open(session('aaaaaaaaaaa1', nodeA), 2, at(1)), undefined);
      assert.equal(await s.open(session('bbbbbbbbbbb1', nodeB), 2, at(1)), undefined);
      // The third, on either node, is refused and not stored; another user is not affected.
      assert.deepEqual(await s.open(session('aaaaaaaaaaa2', nodeA), 2, at(1)), { open: 2 });
      assert.equal(await s.open(session('bbbbbbbbbbb2', nodeB, 'bob'), 2, at(1)), undefined);
      assert.deepEqual(
        (await s.list(at(1))).map((x) => [x.id, x.nodeId, x.username]),
        [
          ['aaaaaaaaaaa1', 'node-a', 'alice'],
          ['bbbbbbbbbbb1', 'node-b', 'alice'],
          ['bbbbbbbbbbb2', 'node-b', 'bob'],
        ],
      );
      // One ends: a place is free again.
      await s.close('aaaaaaaaaaa1');
      assert.equal(await s.open(session('aaaaaaaaaaa3', nodeA), 2, at(1)), undefined);
    }));

  test(`${name}: sessions of a node that stopped heartbeating no longer count, and are swept`, () =>
    withNodes(async (store) => {
      const s = store.liveSessions;
      assert.equal(await s.open(session('aaaaaaaaaaa1', nodeA), 1, at(1)), undefined);
      assert.deepEqual(await s.open(session('bbbbbbbbbbb1', nodeB), 1, at(1)), { open: 1 });
      // node-b heartbeats on; node-a (killed) does not: after 3 missed heartbeats its session lapses.
      assert.ok(await store.nodes.heartbeat(nodeB.nodeId, nodeB.runId, nodeB.pid, 0, at(10)));
      assert.equal(await s.get('aaaaaaaaaaa1', at(10)), undefined);
      assert.equal(await s.open(session('bbbbbbbbbbb1', nodeB), 1, at(10)), undefined);
      // A node that only stalls keeps its rows for a while (it would not write them again)...
      await s.sweep(at(10));
      assert.equal(await s.exists('aaaaaaaaaaa1'), true);
      // ...until it has been silent for 20 heartbeats.
      assert.ok(await store.nodes.heartbeat(nodeB.nodeId, nodeB.runId, nodeB.pid, 0, at(30)));
      await s.sweep(at(30));
      assert.equal(await s.exists('aaaaaaaaaaa1'), false);
      assert.deepEqual(
        (await s.list(at(30))).map((x) => x.id),
        ['bbbbbbbbbbb1'],
      );
      // A process sweeps its own rows at its start (a restart under the same id and run).
      await s.sweep(at(30), nodeB);
      assert.deepEqual(await s.list(at(30)), []);
    }));

  test(`${name}: counters are published and a kill request reaches the owning process`, () =>
    withNodes(async (store) => {
      const s = store.liveSessions;
      await s.open(session('aaaaaaaaaaa1', nodeA), 5, at(1));
      await s.open(session('aaaaaaaaaaa2', nodeA), 5, at(1));
      await s.update([
        {
          id: 'aaaaaaaaaaa1',
          protocol: 'sftp',
          bytesUp: 5_000_000_000,
          bytesDown: 7,
          filesUp: 2,
          filesDown: 1,
        },
      ]);
      const one = await s.get('aaaaaaaaaaa1', at(1));
      assert.deepEqual(
        [one?.protocol, one?.bytesUp, one?.bytesDown, one?.filesUp, one?.filesDown, one?.killRequestedAt],
        ['sftp', 5_000_000_000, 7, 2, 1, undefined],
      );
      assert.deepEqual(await s.killRequests(nodeA), []);
      assert.equal(await s.requestKill('aaaaaaaaaaa2', at(2)), true);
      assert.equal(await s.requestKill('ffffffffffff', at(2)), false);
      assert.deepEqual(await s.killRequests(nodeA), ['aaaaaaaaaaa2']);
      assert.deepEqual(await s.killRequests(nodeB), []);
      assert.deepEqual((await s.get('aaaaaaaaaaa2', at(2)))?.killRequestedAt, at(2));
    }));

  test(`${name}: an upload name is claimed by one live process at a time`, () =>
    withNodes(async (store) => {
      const c = store.uploadClaims;
      const key = '/homes/alice/.ferry-partial.big.bin';
      assert.equal(await c.claim(key, nodeA, at(1)), undefined);
      assert.deepEqual(await c.claim(key, nodeB, at(1)), nodeA);
      // Another name is free; the owner's release frees it; another's release does not.
      assert.equal(await c.claim(`${key}2`, nodeB, at(1)), undefined);
      await c.release(key, nodeB);
      assert.deepEqual(await c.claim(key, nodeB, at(1)), nodeA);
      await c.release(key, nodeA);
      assert.equal(await c.claim(key, nodeB, at(1)), undefined);
      // node-b dies (no heartbeat after 0 s): its claim is taken over once it is stale.
      assert.ok(await store.nodes.heartbeat(nodeA.nodeId, nodeA.runId, nodeA.pid, 0, at(10)));
      assert.equal(await c.claim(key, nodeA, at(10)), undefined);
      assert.deepEqual(await c.claim(key, nodeB, at(10)), nodeA);
      // Silent for 20 heartbeats, node-b's other claim goes with a sweep; node-a's stays until its own.
      assert.ok(await store.nodes.heartbeat(nodeA.nodeId, nodeA.runId, nodeA.pid, 0, at(30)));
      await c.sweep(at(30));
      assert.equal(await c.claim(`${key}2`, nodeA, at(30)), undefined);
      assert.deepEqual(await c.claim(key, nodeB, at(30)), nodeA);
      await c.sweep(at(30), nodeA);
      assert.equal(await c.claim(key, nodeB, at(30)), undefined);
    }));
}
