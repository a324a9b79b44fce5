// One example per command, shown at the end of its --help (issue 13: "--help of every command shows defaults
// and one example"). Kept in one table, keyed by the command's path, so they are read and checked together:
// test/cli-help.test.ts fails for a command without one and for an example naming no command. (backup,
// restore and migrate give theirs with their longer help text, in their own files.)
import type { Command } from 'commander';

export const EXAMPLES: Readonly<Record<string, string>> = {
  init: 'ferry init --data-dir /var/lib/ferry',
  store: 'ferry store copy --from /var/lib/ferry/ferry.db --to postgres://ferry@db.example:5432/ferry',
  serve: 'ferry serve --data-dir /var/lib/ferry --sftp-port 2222 --workers 2',
  users: 'ferry users list --data-dir /var/lib/ferry',
  'users add':
    "echo 's3cret-pass' | ferry users add alice --password-stdin --public-key alice.pub --perm '/in=list,upload'",
  'users set':
    "ferry users set alice --perm '/out=list,download' --quota-bytes 10GiB --quota-files 50000 --protocols sftp,https",
  'users list': 'ferry users list --json',
  groups: 'ferry groups list',
  'groups add':
    "ferry groups add bank-partners --home-template '/srv/partners/%username%' --perm '/in=list,upload' --perm '/out=list,download'",
  'groups set': 'ferry groups set bank-partners --upload-rate 5MiB --protocols sftp,ftps',
  'groups list': 'ferry groups list --json',
  'groups show': 'ferry groups show bank-partners',
  'groups remove': 'ferry groups remove bank-partners',
  folders: 'ferry folders list',
  'folders add': 'ferry folders add reports --path /srv/reports --quota-bytes 50GiB',
  'folders set': "ferry folders set reports --quota-files 100000 --description 'monthly statements'",
  'folders list': 'ferry folders list --json',
  'folders show': 'ferry folders show reports',
  'folders remove': 'ferry folders remove reports',
  quota: 'ferry quota scan alice',
  'quota scan': 'ferry quota scan alice --json',
  'users show': 'ferry users show alice --effective',
  'users remove': 'ferry users remove alice',
  'users passwd': "echo 'new-pass' | ferry users passwd alice --password-stdin",
  'users disable': 'ferry users disable alice',
  'users enable': 'ferry users enable alice',
  'users keys': 'ferry users keys add alice ~/alice.pub',
  'users keys add': 'ferry users keys add alice ~/alice.pub',
  'users keys remove': 'ferry users keys remove alice SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
  'users keys generate': 'ferry users keys generate alice --type ed25519 --output alice_ed25519',
  'users totp': 'ferry users totp enable alice',
  'users totp enable': 'ferry users totp enable alice',
  'users totp disable': 'ferry users totp disable alice',
  'users unlock': 'ferry users unlock alice',
  'users export': 'ferry users export --output users.json',
  'users import': 'ferry users import sftpgo-dump.json --dry-run',
  keys: 'ferry keys host list',
  'keys host': 'ferry keys host generate --type rsa --bits 4096',
  'keys host list': 'ferry keys host list --json',
  'keys host generate': 'ferry keys host generate --type rsa --bits 4096',
  'keys host import': 'ferry keys host import /etc/ssh/ssh_host_ed25519_key',
  'keys host promote': 'ferry keys host promote 4',
  'keys host export': 'ferry keys host export 1 --public >> ~/.ssh/known_hosts_ferry',
  'keys host retire': 'ferry keys host retire 1',
  'keys host certify': 'ferry keys host certify --ca host_ca --principals sftp.example.com,192.0.2.10',
  'keys host cert': 'ferry keys host cert import ssh_host_ed25519_key-cert.pub',
  'keys host cert import': 'ferry keys host cert import ssh_host_ed25519_key-cert.pub',
  'keys host cert remove': 'ferry keys host cert remove 1',
  'keys ca': 'ferry keys ca add user_ca.pub --name corp',
  'keys ca add': 'ferry keys ca add user_ca.pub --name corp',
  'keys ca list': 'ferry keys ca list --json',
  'keys ca remove': 'ferry keys ca remove corp',
  'keys ca revoke': 'ferry keys ca revoke --serial 4711 --ca corp',
  'keys ca revocations': 'ferry keys ca revocations',
  'keys ca unrevoke': 'ferry keys ca unrevoke 3',
  'keys client': 'ferry keys client generate partner-acme --type ed25519',
  'keys client generate': 'ferry keys client generate partner-acme --type ed25519',
  'keys client import': 'ferry keys client import partner-acme ~/.ssh/id_ed25519',
  'keys client export': 'ferry keys client export partner-acme --public',
  'keys client list': 'ferry keys client list',
  'keys client remove': 'ferry keys client remove partner-acme',
  'keys pgp': 'ferry keys pgp generate archive --email archive@example.com',
  'keys pgp generate': 'ferry keys pgp generate archive --email archive@example.com --expires 365',
  'keys pgp import': 'ferry keys pgp import partner-public.asc --name acme',
  'keys pgp export': 'ferry keys pgp export archive --output archive.asc',
  'keys pgp list': 'ferry keys pgp list --json',
  'keys pgp remove': 'ferry keys pgp remove archive',
  'keys x509':
    'ferry keys x509 generate api --cn ferry.example.com --san DNS:ferry.example.com,IP:192.0.2.10',
  'keys x509 generate':
    'ferry keys x509 generate api --cn ferry.example.com --san DNS:ferry.example.com --days 397',
  'keys x509 import': 'ferry keys x509 import api --cert fullchain.pem --key privkey.pem',
  'keys x509 list': 'ferry keys x509 list --json',
  'keys x509 export': 'ferry keys x509 export api --output ferry-api-chain.pem',
  'keys x509 remove': 'ferry keys x509 remove api',
  defender: 'ferry defender list --banned',
  'defender list': 'ferry defender list --banned --json',
  'defender unban': 'ferry defender unban 203.0.113.7',
  'defender allow': 'ferry defender allow add 203.0.113.0/24 --note "partner office"',
  'defender allow list': 'ferry defender allow list --json',
  'defender allow add': 'ferry defender allow add 203.0.113.0/24 --note "partner office"',
  'defender allow remove': 'ferry defender allow remove 203.0.113.0/24',
  'defender deny': 'ferry defender deny add 198.51.100.0/24 --note scanner',
  'defender deny list': 'ferry defender deny list',
  'defender deny add': 'ferry defender deny add 198.51.100.0/24 --note scanner',
  'defender deny remove': 'ferry defender deny remove 198.51.100.0/24',
  audit: 'ferry audit verify',
  'audit tail': 'ferry audit tail -n 50 --follow',
  'audit query': "ferry audit query --user alice --since 7d --action upload,download --path '/in/**'",
  'audit verify': 'ferry audit verify --file audit-2026.jsonl --public-key host_ed25519.pub',
  'audit export': 'ferry audit export --format jsonl --since 30d --output audit.jsonl',
  'audit prune': 'ferry audit prune --days 365',
  partners: 'ferry partners list',
  'partners add': 'ferry partners add acme --host sftp.acme.example --user ferry --client-key partner-acme',
  'partners set': 'ferry partners set acme --port 2222 --no-rename',
  'partners list': 'ferry partners list --json',
  'partners show': 'ferry partners show acme',
  'partners trust':
    'ferry partners trust acme --fingerprint SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
  'partners test': 'ferry partners test acme',
  'partners remove': 'ferry partners remove acme',
  jobs: 'ferry jobs list',
  'jobs add':
    "ferry jobs add acme-in --partner acme --direction pull --remote-dir /out --local-dir /srv/in --pattern '*.csv' --schedule '*/15 * * * *'",
  'jobs set': "ferry jobs set acme-in --schedule '0 * * * *' --retries 3 --backoff 1m",
  'jobs list': 'ferry jobs list --json',
  'jobs run': 'ferry jobs run acme-in',
  'jobs history': 'ferry jobs history acme-in --limit 5',
  'jobs enable': 'ferry jobs enable acme-in',
  'jobs disable': 'ferry jobs disable acme-in',
  'jobs remove': 'ferry jobs remove acme-in',
  cluster: 'ferry cluster status --store postgres://ferry@db.example:5432/ferry',
  'cluster status': 'ferry cluster status --json --store postgres://ferry@db.example:5432/ferry',
  storage: 'ferry storage rekey --new-master-key /root/master.key.new',
  'storage rekey': 'ferry storage rekey --old-master-key /mnt/old-ferry/master.key',
  apikeys: 'ferry apikeys list',
  'apikeys add': 'ferry apikeys add nightly-report --role auditor --expires 90d',
  'apikeys list': 'ferry apikeys list --json',
  'apikeys remove': 'ferry apikeys remove nightly-report',
  admins: 'ferry admins list',
  'admins add': "echo 'long-admin-pass' | ferry admins add carol --role operator --password-stdin",
  'admins list': 'ferry admins list --json',
  'admins set': 'ferry admins set carol --role operator',
  'admins passwd': "echo 'new-admin-pass' | ferry admins passwd carol --password-stdin",
  'admins remove': 'ferry admins remove carol',
  'admins totp': 'ferry admins totp enable carol',
  'admins totp enable': 'ferry admins totp enable carol',
  'admins totp disable': 'ferry admins totp disable carol',
  sftp: 'ferry sftp -P 2222 -i ~/.ssh/id_ed25519 alice@sftp.example.com',
};

/** A command's path below `ferry`: 'keys host generate'. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Adds its example to every command in `program`'s tree that has one in EXAMPLES. */
export function addExamples(program: Command): void {
  const visit = (command: Command) => {
    const example = EXAMPLES[commandPath(command)];
    if (example !== undefined) command.addHelpText('after', `\nExample:\n  ${example}`);
    for (const sub of command.commands) visit(sub);
  };
  for (const sub of program.commands) visit(sub);
}
