// First-run work, once per data dir and before any worker serves: host keys, the `admin` SFTP user and the first
// administrator of the API and console, each audited through the admin services.
import { systemActor } from './admin/actor.js';
import { generatePassword } from './auth/password.js';
import type { AppContext } from './context.js';
import { describeHostKey, type HostKeyMaterial } from './key-manager/host-keys.js';
import { loggers } from './logger.js';
import { Secret } from './util/secret.js';

/** Creates the `admin` account on a store without users and returns its one-time password (audited). */
async function ensureAdmin(ctx: AppContext): Promise<Secret<string> | undefined> {
  if ((await ctx.store.users.list()).length > 0) return undefined;
  const password = new Secret(generatePassword());
  return (await ctx.admin.users.ensureAdmin(systemActor(), password)) ? password : undefined;
}

/** The first administrator account of the API and console, unless there is one; its password printed once. */
async function ensureFirstApiAdmin(
  ctx: AppContext,
  out: (line: string) => void,
  given: Secret<string> | undefined,
): Promise<void> {
  const password = given ?? new Secret(generatePassword());
  if (!(await ctx.admin.apiAccess.ensureFirstAdmin(systemActor(), password))) return;
  if (given) {
    out("created API administrator 'admin' (role admin); log in with POST /api/login");
    return;
  }
  out(`created API administrator 'admin' (role admin) with one-time password: ${password.reveal()}`);
  out(
    '(shown only now; log in with POST /api/login; change it with: ferry admins passwd admin --password-stdin)',
  );
}

/**
 * First-run work that must happen once, before any worker starts: host keys, the `admin` SFTP user and the
 * `admin` administrator account of the API and console, audited through the admin services. Prints the
 * fingerprints (and new passwords) through `out`; returns the pending and active host keys. `apiAdminPassword`
 * (from `ferry init --admin-password-stdin`) replaces the generated one of the administrator account.
 */
export async function prepareDataDir(
  ctx: AppContext,
  out: (line: string) => void,
  apiAdminPassword?: Secret<string>,
  options: { rescanQuotas?: boolean } = {},
): Promise<HostKeyMaterial[]> {
  // Before any session: what a crash left between a file's change and its count is counted as the disk has it.
  // Workers of `--workers N` skip it (their primary did it before forking; they may start while others serve).
  if (options.rescanQuotas !== false) {
    const scanned = await ctx.rescanQuotas();
    if (scanned > 0) loggers.serve.info({ usersAndFolders: scanned }, 'quota usage rescanned from disk');
  }
  const generated = await ctx.admin.keys.host.ensureDefaults(systemActor());
  const made = new Set(generated.map((k) => k.id));
  const hostKeys = await ctx.hostKeys.liveMaterial();
  for (const key of hostKeys) {
    const how = made.has(key.id)
      ? 'generated'
      : key.state === 'pending'
        ? 'pending (announced only)'
        : 'loaded';
    out(`host key ${how}: ${describeHostKey(key)}`);
  }
  const adminPassword = await ensureAdmin(ctx);
  if (adminPassword) {
    out(`created user 'admin' with one-time password: ${adminPassword.reveal()}`);
    out('(shown only now; change it with: ferry users passwd admin --password-stdin)');
    // Only on the first start (a store without users): an administrator who removed every account later does
    // not get one back by restarting.
    await ensureFirstApiAdmin(ctx, out, apiAdminPassword);
  }
  return hostKeys;
}
