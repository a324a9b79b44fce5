// `ferry users show USER --effective`: the settings the user's sessions get, each with where it came from.
import type { UserAdmin } from '../admin/users.js';
import { formatPgpPolicy } from '../util/pgp-policy.js';

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
    `openpgp:     ${Object.keys(e.pgpPolicies).length === 0 ? 'none' : ''}`,
    ...Object.entries(e.pgpPolicies).map(
      ([dir, policy]) => `  ${formatPgpPolicy(dir, policy)}${from(s.pgpPolicies[dir] ?? 'user')}`,
    ),
    `quota bytes: ${limit(e.quota.limitBytes, '')}${from(s.quotaBytes)}`,
    `quota files: ${limit(e.quota.limitFiles, '')}${from(s.quotaFiles)}`,
    `upload:      ${limit(e.uploadRate, ' B/s')}${from(s.uploadRate)}`,
    `download:    ${limit(e.downloadRate, ' B/s')}${from(s.downloadRate)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
