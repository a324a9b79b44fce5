// What `ferry users show` prints: the user's own settings, or with --effective the settings their sessions get,
// each with where it came from.
import type { Memberships } from '../admin/user-groups.js';
import type { UserAdmin, UserView } from '../admin/users.js';
import { formatPgpPolicy } from '../util/pgp-policy.js';
import { transferQuotaLines, transferQuotaText } from './transfer-quota-options.js';

type Effective = Awaited<ReturnType<UserAdmin['effective']>>;

const from = (source: string) => `  [${source}]`;
const limit = (n: number, unit: string) => (n === 0 ? 'unlimited' : `${n}${unit}`);

export function printEffective(e: Effective): void {
  const s = e.sources;
  const lines = [
    `name:        ${e.name}`,
    `groups:      ${e.groups.primary ?? 'no primary'}${e.groups.secondary.length ? `; secondary: ${e.groups.secondary.join(', ')}` : ''}`,
    `home:        ${e.home}${from(s.home)}`,
    `protocols:   ${e.protocols.length ? e.protocols.join(', ') : 'all'}${from(s.protocols)}`,
    `login from:  ${e.allowedSources.length ? e.allowedSources.join(', ') : 'anywhere'}${from(s.allowedSources)}`,
    'permissions:',
    ...Object.entries(e.permissions)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([dir, perms]) => `  ${dir} ${perms.join(',')}${from(s.permissions[dir] ?? 'user')}`),
    `folders:     ${e.folders.length === 0 ? 'none' : ''}`,
    ...e.folders.map(
      (f) =>
        `  ${f.virtualPath} ${f.name} (${f.root}; quota: bytes ${limit(f.quotaBytes, '')}, files ${limit(f.quotaFiles, '')})${from(s.folders[f.virtualPath] ?? 'user')}`,
    ),
    `openpgp:     ${Object.keys(e.pgpPolicies).length === 0 ? 'none' : ''}`,
    ...Object.entries(e.pgpPolicies).map(
      ([dir, policy]) => `  ${formatPgpPolicy(dir, policy)}${from(s.pgpPolicies[dir] ?? 'user')}`,
    ),
    `encryption:  ${e.encryption.on ? 'on (new files stored encrypted)' : 'off'}${from(e.encryption.source)}`,
    `quota bytes: ${limit(e.quota.limitBytes, '')}${from(s.quotaBytes)}`,
    `quota files: ${limit(e.quota.limitFiles, '')}${from(s.quotaFiles)}`,
    `upload:      ${limit(e.uploadRate, ' B/s')}${from(s.uploadRate)}`,
    `download:    ${limit(e.downloadRate, ' B/s')}${from(s.downloadRate)}`,
    ...transferQuotaLines(e.transferQuotas, e.transferUsage, s.transferQuotas),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function printUser(view: UserView, groups: Memberships): void {
  const lines = [
    `name:        ${view.name}`,
    `groups:      ${groups.primary ?? 'no primary'}${groups.secondary.length ? `; secondary: ${groups.secondary.join(', ')}` : ''}`,
    `status:      ${view.disabled ? 'disabled' : 'enabled'}`,
    `home:        ${view.home}`,
    view.authSource
      ? `password:    checked by the directory (${view.authSource}; groups: ${view.externalGroups.join(', ') || 'none'})`
      : `password:    ${view.hasPassword ? `set${view.passwordChanged ? ` ${view.passwordChanged}` : ''}${view.mustChangePassword ? ', must be changed at the next login' : ''}` : 'not set'}`,
    `login needs: ${view.requiredMethods.length ? view.requiredMethods.join(' + ') : 'password or public key'}`,
    `login from:  ${view.allowedSources.length ? view.allowedSources.join(', ') : 'anywhere'}`,
    `protocols:   ${view.protocols.length ? view.protocols.join(', ') : 'all'}`,
    `public keys: ${view.publicKeys.length === 0 ? 'none' : ''}`,
    ...view.publicKeys.map((k) => `  ${k.type} ${k.fingerprint}${k.comment ? ` ${k.comment}` : ''}`),
    'permissions:',
    ...Object.entries(view.permissions).map(([dir, perms]) => `  ${dir} ${perms.join(',')}`),
    `openpgp:     ${Object.keys(view.pgpPolicies).length === 0 ? 'none' : ''}`,
    ...Object.entries(view.pgpPolicies).map(([dir, policy]) => `  ${formatPgpPolicy(dir, policy)}`),
    `encryption:  ${view.storageEncryption === null ? "the server's setting" : view.storageEncryption ? 'on (new files stored encrypted)' : 'off'}`,
    `quota:       ${quotaText(view.quota)}`,
    `bandwidth:   ${rateText(view.uploadRate, view.downloadRate)}`,
    `transfer:    ${transferQuotaText(view.transferQuotas, 'none')}`,
    `expires:     ${view.expires ? `after ${view.expires} (UTC)` : 'never'}`,
    `last login:  ${view.lastLogin ?? 'never'}`,
    `created:     ${view.created}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `1.5 MiB of 10 GiB, 12 of 50000 files`; usage is counted only while a limit is set. */
function quotaText(q: UserView['quota']): string {
  if (q.limitBytes === 0 && q.limitFiles === 0) return 'none';
  const bytes = `${q.usedBytes} of ${q.limitBytes === 0 ? 'unlimited' : q.limitBytes} bytes`;
  const files = `${q.usedFiles} of ${q.limitFiles === 0 ? 'unlimited' : q.limitFiles} files`;
  return `${bytes}, ${files} used`;
}

/** `upload 5242880 B/s, download unlimited`, or 'unlimited'. */
function rateText(upload: number, download: number): string {
  if (upload === 0 && download === 0) return 'unlimited';
  const one = (n: number) => (n === 0 ? 'unlimited' : `${n} B/s`);
  return `upload ${one(upload)}, download ${one(download)} (all sessions together)`;
}
