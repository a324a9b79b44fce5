// Lists sort server-side (`?sort=key|-key`, a fixed allow-list per endpoint) and page under the sort with cursors
// that repeat and skip nothing: users (paged in the store), partners, jobs, sessions, deliveries and the audit
// trail, on SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { type ApiTestServer, assertProblem, type Json, startApiTestServer } from './helpers/api.js';
import { WebClient } from './helpers/web-client.js';

const unavailable = await postgresUnavailable();

/** Byte-wise (as the stores compare) or numeric, then the tie-breaker; reversed whole for descending. */
function expectedOrder(
  items: Json[],
  keyOf: (i: Json) => string | number,
  tieOf: (i: Json) => string,
  desc: boolean,
) {
  const cmp = (a: Json, b: Json) => {
    const x = keyOf(a);
    const y = keyOf(b);
    const c = x < y ? -1 : x > y ? 1 : tieOf(a) < tieOf(b) ? -1 : tieOf(a) > tieOf(b) ? 1 : 0;
    return desc ? -c : c;
  };
  return [...items].sort(cmp).map(tieOf);
}

for (const driver of ['sqlite', 'postgres'] as const) {
  describe(`sorted lists on ${driver}`, { skip: driver === 'postgres' && unavailable }, () => {
    let api: ApiTestServer;
    let dropDatabase: (() => Promise<void>) | undefined;

    before(async () => {
      let store = {};
      if (driver === 'postgres') {
        const db = await createTestDatabase();
        dropDatabase = () => db.drop();
        store = { store: { url: db.url } };
      }
      api = await startApiTestServer({ config: store });
      // Created in a burst (equal creation times: ties), then some changed (later update times).
      for (const name of ['mia', 'abe', 'zoe', 'kim', 'bob', 'lee', 'ann'])
        await api.server.addUser(name, { password: `${name}-pw-12345` });
      await new Promise((r) => setTimeout(r, 5));
      for (const name of ['zoe', 'abe']) {
        const r = await api.call('PATCH', `/api/users/${name}`, {
          key: api.keys.admin,
          body: { disabled: true },
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
    });

    after(async () => {
      await api?.close();
      await dropDatabase?.();
    });

    /** Every item of a list, page by page (`limit` 2), checking no item comes twice. */
    async function pages(path: string, field = 'nextCursor', param = 'cursor'): Promise<Json[]> {
      const items: Json[] = [];
      let next: string | number | null = null;
      let url: string;
      for (let n = 0; n < 50; n++) {
        const sep = path.includes('?') ? '&' : '?';
        url = `${path}${sep}limit=2${next !== null ? `&${param}=${next}` : ''}`;
        const r = await api.call('GET', url, { key: api.keys.admin });
        assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`);
        assert.ok(r.body.items.length <= 2);
        items.push(...r.body.items);
        next = r.body[field] ?? null;
        if (next === null) return items;
      }
      throw new Error(`${path}: no last page`);
    }

    test('users page by name, creation and update time, both ways, with and without a search', async () => {
      const all = (await api.call('GET', '/api/users?limit=1000', { key: api.keys.admin })).body.items;
      assert.ok(all.length >= 7, JSON.stringify(all.map((u: Json) => u.name)));
      for (const [key, keyOf] of [
        ['name', (u: Json) => u.name],
        ['created', (u: Json) => u.created],
        ['updated', (u: Json) => u.updated],
      ] as const)
        for (const desc of [false, true]) {
          const sort = `${desc ? '-' : ''}${key}`;
          const names = (await pages(`/api/users?sort=${sort}`)).map((u) => u.name);
          assert.deepEqual(
            names,
            expectedOrder(all, keyOf, (u) => u.name, desc),
            sort,
          );
          assert.equal(new Set(names).size, all.length, `${sort}: no duplicates`);
        }
      // Updated ones come first newest-first, whatever their names.
      const byUpdate = (await pages('/api/users?sort=-updated')).map((u) => u.name);
      assert.deepEqual(byUpdate.slice(0, 2).sort(), ['abe', 'zoe']);
      // With a search (read and filtered in memory), the same order and cursors.
      const searched = (await pages('/api/users?search=e&sort=-name')).map((u) => u.name);
      assert.deepEqual(
        searched,
        all
          .map((u: Json) => u.name)
          .filter((n: string) => n.includes('e'))
          .sort()
          .reverse(),
      );
      assert.ok(searched.includes('lee') && searched.includes('zoe'));
    });

    test('an unknown sort, or a cursor of another sort, is a one-line 400 and lists nothing', async () => {
      for (const path of [
        '/api/users?sort=password',
        '/api/users?sort=--name',
        '/api/partners?sort=secret',
        '/api/jobs?sort=name;drop',
        '/api/sessions?sort=pid',
        '/api/deliveries?sort=rule',
        '/api/audit?sort=-user',
      ]) {
        const r = await api.call('GET', path, { key: api.keys.admin });
        assertProblem(r, 400, 'ERR_INVALID_ARGUMENT');
        assert.match(r.body.detail, /^sort: must be one of /, path);
        assert.doesNotMatch(r.body.detail, /\n/);
      }
      const first = await api.call('GET', '/api/users?limit=2&sort=name', { key: api.keys.admin });
      const crossed = await api.call('GET', `/api/users?limit=2&sort=-name&cursor=${first.body.nextCursor}`, {
        key: api.keys.admin,
      });
      assertProblem(crossed, 400, 'ERR_INVALID_ARGUMENT');
      assert.match(crossed.body.detail, /^cursor: /);
      const forged = await api.call('GET', '/api/users?sort=name&cursor=bm90LWpzb24', {
        key: api.keys.admin,
      });
      assertProblem(forged, 400, 'ERR_INVALID_ARGUMENT');
    });

    test('partners and jobs sort by their columns; ties break by name', async () => {
      const partners = [
        ['p-east', 'b.example', 'sftp'],
        ['p-west', 'a.example', 'ftps'],
        ['p-north', 'b.example', 'sftp'],
        ['p-south', 'c.example', 'ftps-implicit'],
        ['p-mid', 'a.example', 'sftp'],
      ];
      for (const [name, host, protocol] of partners) {
        const r = await api.call('POST', '/api/partners', {
          key: api.keys.admin,
          body: { name, host, protocol, user: 'ferry', password: 'remote-pw' },
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const all = (await api.call('GET', '/api/partners?limit=1000', { key: api.keys.admin })).body.items;
      for (const sort of ['host', '-host', 'protocol', '-name', 'created'] as const) {
        const key = sort.replace('-', '') as 'host' | 'protocol' | 'name' | 'created';
        const got = (await pages(`/api/partners?sort=${sort}`)).map((p) => p.name);
        assert.deepEqual(
          got,
          expectedOrder(
            all,
            (p) => p[key],
            (p) => p.name,
            sort.startsWith('-'),
          ),
          sort,
        );
      }
      assert.deepEqual(
        (await pages('/api/partners?sort=host')).map((p) => p.name),
        ['p-mid', 'p-west', 'p-east', 'p-north', 'p-south'],
      );

      const local = join(api.server.dataDir, 'jobs-local');
      await mkdir(local, { recursive: true });
      for (const [name, partner, direction] of [
        ['j1', 'p-west', 'pull'],
        ['j2', 'p-east', 'push'],
        ['j3', 'p-east', 'pull'],
        ['j4', 'p-mid', 'push'],
      ]) {
        const r = await api.call('POST', '/api/jobs', {
          key: api.keys.admin,
          body: { name, partner, direction, remoteDir: '/out', localDir: local },
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      assert.deepEqual(
        (await pages('/api/jobs?sort=partner')).map((j) => j.name),
        ['j2', 'j3', 'j4', 'j1'],
      );
      assert.deepEqual(
        (await pages('/api/jobs?sort=-direction')).map((j) => j.name),
        ['j4', 'j2', 'j3', 'j1'],
      );
    });

    test('live sessions sort by user and address and page without repeats', async () => {
      const clients: WebClient[] = [];
      for (const name of ['mia', 'kim', 'bob', 'lee', 'ann']) {
        const web = new WebClient(api.base);
        assert.equal((await web.login(name, `${name}-pw-12345`)).status, 303);
        clients.push(web);
      }
      const byUser = (await pages('/api/sessions?protocol=https&sort=-user')).map((s) => s.username);
      assert.deepEqual(byUser, ['mia', 'lee', 'kim', 'bob', 'ann']);
      const bySince = await pages('/api/sessions?protocol=https&sort=since');
      assert.deepEqual(
        bySince.map((s) => s.username),
        expectedOrder(
          bySince,
          (s) => s.connectedAt,
          (s) => s.id,
          false,
        ).map((id) => bySince.find((s) => s.id === id).username),
      );
      assert.equal(new Set(bySince.map((s) => s.id)).size, 5);
    });

    test('deliveries page newest or oldest first; the audit trail newest first with beforeSeq', async () => {
      const store = api.server.running.context.store;
      const rule = await store.rules.create({
        name: 'sorted',
        enabled: false,
        events: ['upload'],
        conditions: { paths: ['/in/**'] },
        actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook', timeout: 5 }],
      });
      const t0 = Date.now() - 60_000;
      for (let i = 0; i < 5; i++)
        await store.deliveries.enqueue(
          [0, 1].map((n) => ({
            id: `d${i}${n}`,
            ruleId: rule.id,
            actionIndex: 0,
            eventName: 'upload' as const,
            fields: { path: `/in/${i}` },
          })),
          new Date(t0 + i * 1000),
        );
      const oldest = (await pages('/api/deliveries?rule=sorted&sort=created')).map((d) => d.id);
      assert.deepEqual(oldest, ['d00', 'd01', 'd10', 'd11', 'd20', 'd21', 'd30', 'd31', 'd40', 'd41']);
      const newest = (await pages('/api/deliveries?rule=sorted&sort=-created')).map((d) => d.id);
      assert.deepEqual(newest, ['d40', 'd41', 'd30', 'd31', 'd20', 'd21', 'd10', 'd11', 'd00', 'd01']);
      assert.deepEqual(
        (await pages('/api/deliveries?rule=sorted')).map((d) => d.id),
        newest,
        'the default',
      );

      await api.server.running.context.audit.flush();
      const seqs = (items: Json[]) => items.map((r) => r.seq);
      const forward = seqs(await pages('/api/audit?action=admin&sort=seq', 'nextAfterSeq', 'afterSeq'));
      assert.ok(forward.length >= 11, `${forward.length} admin records`);
      assert.deepEqual(
        forward,
        [...forward].sort((a, b) => a - b),
      );
      const back = seqs(await pages('/api/audit?action=admin&sort=-seq', 'nextBeforeSeq', 'beforeSeq'));
      assert.deepEqual(back, [...forward].reverse());
      const mixed = await api.call('GET', '/api/audit?sort=seq&beforeSeq=5', { key: api.keys.admin });
      assertProblem(mixed, 400, 'ERR_INVALID_ARGUMENT');
    });
  });
}
