// A real OpenLDAP directory for tests: Debian's slapd with a generated slapd.conf (mdb backend) in a temp dir,
// on a free loopback port, loaded with a service account, people and a group; stopped and removed after.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort } from './ferry-serve.js';
import { makeTlsPair } from './tls-pair.js';

const execFileAsync = promisify(execFile);

export const SLAPD = '/usr/sbin/slapd';
export const SUFFIX = 'dc=ferry,dc=test';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const SERVICE_DN = `cn=ferry-svc,ou=services,${SUFFIX}`;
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;

/** Why the directory tests cannot run here, or undefined when they can. */
export function slapdMissing(): string | undefined {
  if (!existsSync(SLAPD)) return `${SLAPD} is not installed (Debian package slapd): LDAP tests skipped`;
  if (!existsSync('/usr/lib/ldap/back_mdb.so')) return 'slapd has no mdb backend module: LDAP tests skipped';
  return undefined;
}

/** `{SSHA}` as slappasswd makes it: base64(SHA-1(password + salt) + salt). */
export function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

export interface DirectoryPerson {
  readonly uid: string;
  readonly password: string;
  readonly groups?: readonly string[];
}

export interface TestDirectory {
  readonly dir: string;
  /** ldap://127.0.0.1:PORT (StartTLS offered when started with tls). */
  readonly url: string;
  /** ldaps://127.0.0.1:PORT, only when started with tls. */
  readonly ldapsUrl: string | undefined;
  /** The CA (self-signed certificate) that signs the directory's TLS certificate. */
  readonly caFile: string | undefined;
  readonly servicePassword: string;
  /** A client bound as the directory's root, for changes the test makes (remove a person, set an attribute). */
  admin<T>(work: (client: Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
  /** Stops the server process but keeps its data (to start it again on the same ports). */
  kill(): Promise<void>;
  start(): Promise<void>;
}

const schema = (name: string) => `include /etc/ldap/schema/${name}.schema`;

function ldif(servicePassword: string, people: readonly DirectoryPerson[]): string {
  const blocks = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: ferry\no: Ferry test`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ${SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: ferry-svc\nuserPassword: ${ssha(servicePassword)}`,
  ];
  for (const p of people) {
    blocks.push(
      `dn: uid=${p.uid},${PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${p.uid}\ncn: ${p.uid}\nsn: ${p.uid}\nuserPassword: ${ssha(p.password)}`,
    );
  }
  const groups = new Map<string, string[]>();
  for (const p of people) for (const g of p.groups ?? []) groups.set(g, [...(groups.get(g) ?? []), p.uid]);
  for (const [cn, uids] of groups) {
    const members = uids.map((u) => `member: uid=${u},${PEOPLE}`).join('\n');
    blocks.push(`dn: cn=${cn},${GROUPS}\nobjectClass: groupOfNames\ncn: ${cn}\n${members}`);
  }
  return `${blocks.join('\n\n')}\n`;
}

/** Starts slapd with the given people (each a uid and password, and the groups of names they are members of). */
export async function startDirectory(
  people: readonly DirectoryPerson[],
  o: { tls?: boolean } = {},
): Promise<TestDirectory> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-slapd-'));
  const rootPassword = randomBytes(12).toString('hex');
  const servicePassword = randomBytes(12).toString('hex');
  await mkdir(join(dir, 'db'));
  const tls = o.tls ? await makeTlsPair(dir) : undefined;
  const conf = [
    schema('core'),
    schema('cosine'),
    schema('inetorgperson'),
    schema('nis'),
    // The anonymous-bind trap, armed: a DN with an empty password binds (as anonymous) instead of failing,
    // as on directories configured this way; Ferry must never send such a bind.
    'allow bind_anon_dn',
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    `pidfile ${join(dir, 'slapd.pid')}`,
    ...(tls ? [`TLSCertificateFile ${tls.cert}`, `TLSCertificateKeyFile ${tls.key}`] : []),
    'database mdb',
    'maxsize 10485760',
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ssha(rootPassword)}`,
    `directory ${join(dir, 'db')}`,
    // Passwords: only a bind may use them; the rest: readable by any bound account, nothing for anonymous.
    'access to attrs=userPassword by self write by anonymous auth by * none',
    'access to * by users read by * none',
    '',
  ].join('\n');
  const confFile = join(dir, 'slapd.conf');
  await writeFile(confFile, conf);
  await writeFile(join(dir, 'data.ldif'), ldif(servicePassword, people));
  await execFileAsync('/usr/sbin/slapadd', ['-q', '-f', confFile, '-l', join(dir, 'data.ldif')]);
  // Free ports, picked again if another process takes one before slapd binds it (see the first start below).
  let url = '';
  let ldapsUrl: string | undefined;
  const pickPorts = async () => {
    url = `ldap://127.0.0.1:${await freePort()}`;
    ldapsUrl = tls ? `ldaps://127.0.0.1:${await freePort()}` : undefined;
  };
  await pickPorts();
  let child: ChildProcess | undefined;
  let log = '';

  const admin = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url, connectTimeout: 2000, timeout: 5000 });
    try {
      await client.bind(ROOT_DN, rootPassword);
      return await work(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  };

  const start = async () => {
    const urls = [`${url}/`, ...(ldapsUrl ? [`${ldapsUrl}/`] : [])].join(' ');
    // -d 0: stay in the foreground (the test owns the process) without debug output.
    child = spawn(SLAPD, ['-f', confFile, '-h', urls, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`slapd exited (${child.exitCode}):\n${log}`);
      try {
        await admin(async () => {});
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`slapd did not answer on ${url}: ${String(err)}\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  const kill = () =>
    new Promise<void>((resolve) => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });

  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      await kill();
      if (attempt === 3) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      await pickPorts();
    }
  }
  return {
    dir,
    url,
    ldapsUrl,
    caFile: tls?.cert,
    servicePassword,
    admin,
    kill,
    start,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
