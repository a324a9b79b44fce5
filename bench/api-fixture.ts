// The API scenario's store: many users and a long audit trail, written through the store layer (not the API).

const CHUNK = 10_000;

/**
 * Adds `users` users and `records` audit records (sealed into the chain, in transactions of 10 000) to the data
 * dir of a running or stopped Ferry. Imported lazily: the other scenarios treat Ferry as a black box.
 */
export async function buildApiFixture(
  dataDir: string,
  users: number,
  records: number,
  log: (line: string) => void,
): Promise<void> {
  const { AppContext } = await import('../src/context.js');
  const { configFromOptions } = await import('../src/cli/common.js');
  const { addUser } = await import('../src/auth/user-admin.js');
  const { canonicalJson, GENESIS_HASH, sealRecord } = await import('../src/audit/chain.js');
  const ctx = await AppContext.create(configFromOptions({ dataDir }), 'write');
  try {
    let started = performance.now();
    for (let i = 0; i < users; i++)
      await addUser(ctx.store.users, { name: `user${String(i).padStart(5, '0')}` });
    log(`  ${users} users in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    started = performance.now();
    const day = Date.parse('2026-01-01T00:00:00Z');
    for (let done = 0; done < records; done += CHUNK) {
      const count = Math.min(CHUNK, records - done);
      await ctx.store.audit.append((head) => {
        const out = [];
        let seq = head?.seq ?? 0;
        let prev = head?.hash ?? GENESIS_HASH;
        for (let i = 0; i < count; i++) {
          const n = done + i;
          const record = sealRecord(
            {
              // One upload every 30 s from the start of the year: a busy server's months.
              at: new Date(day + n * 30_000).toISOString(),
              action: 'upload',
              user: `user${String(n % users).padStart(5, '0')}`,
              sessionId: `s${Math.floor(n / 4)}`,
              address: '192.0.2.10',
              protocol: 'sftp',
              path: `/inbox/file-${n}.csv`,
              target: null,
              result: 'ok',
              reason: null,
              detail: canonicalJson({ bytes: 1_048_576 + (n % 1000), durationMs: 120 }),
            },
            ++seq,
            prev,
          );
          prev = record.hash;
          out.push(record);
        }
        return out;
      });
    }
    log(`  ${records} audit records in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await ctx.dispose();
  }
}
