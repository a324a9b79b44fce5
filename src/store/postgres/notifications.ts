// PostgreSQL LISTEN/NOTIFY for the store's users: one dedicated connection listens for every channel, reconnecting
// after a drop; notifications go out through the pool.
import pg from 'pg';
import { loggers } from '../../logger.js';
import type { StoreNotifications } from '../types.js';

/** Channel names are identifiers Ferry chooses, never user input; checked anyway since LISTEN cannot bind them. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
const RECONNECT_MS = 1000;

export function postgresNotifications(
  url: string,
  pool: pg.Pool,
): StoreNotifications & { close(): Promise<void> } {
  const log = loggers.store;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      c.on('notification', (n) => {
        for (const handler of handlers.get(n.channel) ?? []) handler(n.payload ?? '');
      });
      c.on('error', (err) => {
        log.warn({ err }, 'store notification connection lost; reconnecting');
        client = undefined;
        connecting = undefined;
        c.end().catch(() => {});
        if (!closed) setTimeout(() => void relisten(), RECONNECT_MS).unref();
      });
      await c.connect();
      for (const channel of handlers.keys()) await c.query(`LISTEN ${channel}`);
      client = c;
      return c;
    })();
    connecting.catch(() => {
      connecting = undefined;
    });
    return connecting;
  };
  const relisten = async () => {
    if (closed || client) return;
    try {
      await connect();
    } catch (err) {
      log.warn({ err }, 'store notification connection failed; retrying');
      setTimeout(() => void relisten(), RECONNECT_MS).unref();
    }
  };

  return {
    async listen(channel, onMessage) {
      if (!CHANNEL.test(channel)) throw new Error(`bad notification channel ${channel}`);
      const first = !handlers.has(channel);
      const set = handlers.get(channel) ?? new Set<(payload: string) => void>();
      handlers.set(channel, set);
      set.add(onMessage);
      const c = client ?? (await connect());
      if (first && client === c) await c.query(`LISTEN ${channel}`);
      return async () => {
        set.delete(onMessage);
        if (set.size > 0 || handlers.get(channel) !== set) return;
        handlers.delete(channel);
        await client?.query(`UNLISTEN ${channel}`).catch(() => {});
      };
    },
    async notify(channel, payload) {
      if (!CHANNEL.test(channel)) throw new Error(`bad notification channel ${channel}`);
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      closed = true;
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
