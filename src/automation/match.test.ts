import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type EventFields, ruleEventOf } from './event-names.js';
import { compileConditions, matches, pathGlob } from './match.js';
import type { RuleConditions } from './types.js';

const upload = (fields: EventFields = {}): EventFields => ({
  event: 'upload',
  user: 'alice',
  path: '/in/acme/report.csv',
  size: '2048',
  protocol: 'sftp',
  status: 'ok',
  remoteAddress: '192.0.2.10',
  ...fields,
});

const rule = (conditions: RuleConditions, events: readonly string[] = ['upload']) =>
  ({ events, conditions }) as Parameters<typeof matches>[0];

test('a rule fires only for the events it names', () => {
  assert.equal(matches(rule({}), 'upload', upload()), true);
  assert.equal(matches(rule({}), 'download', upload()), false);
  assert.equal(matches(rule({}, ['download', 'upload']), 'upload', upload()), true);
});

test('user globs include, and a leading ! excludes', () => {
  assert.equal(matches(rule({ users: ['al*'] }), 'upload', upload()), true);
  assert.equal(matches(rule({ users: ['bob', 'carol'] }), 'upload', upload()), false);
  assert.equal(matches(rule({ users: ['*', '!alice'] }), 'upload', upload()), false);
  assert.equal(matches(rule({ users: ['!bob'] }), 'upload', upload()), true, 'only exclusions: all others');
  assert.equal(matches(rule({ users: ['*'] }), 'upload', upload({ user: undefined })), false);
});

test('path globs: * stays in one directory, ** crosses directories', () => {
  const at = (paths: string[], path: string) => matches(rule({ paths }), 'upload', upload({ path }));
  assert.equal(at(['/in/*'], '/in/a.csv'), true);
  assert.equal(at(['/in/*'], '/in/acme/a.csv'), false);
  assert.equal(at(['/in/**'], '/in/acme/deep/a.csv'), true);
  assert.equal(at(['/in/**/*.csv'], '/in/a.csv'), true, '** may stand for no directory');
  assert.equal(at(['/in/**/*.csv'], '/in/x/y/a.csv'), true);
  assert.equal(at(['/in/**/*.csv'], '/in/x/y/a.txt'), false);
  assert.equal(at(['**/*.exe'], '/a/b/setup.exe'), true);
  assert.equal(at(['/in/**', '!**/.ferry-part.*'], '/in/x/.ferry-part.a'), false);
  assert.equal(at(['/in/[ab]?.csv'], '/in/b1.csv'), true);
  assert.equal(at(['/in/*.csv'], '/in/a.CSV'), false, 'case matters, as in the file system');
});

test('protocol, size range and status', () => {
  assert.equal(matches(rule({ protocols: ['SFTP', 'scp'] }), 'upload', upload()), true);
  assert.equal(matches(rule({ protocols: ['scp'] }), 'upload', upload()), false);
  assert.equal(matches(rule({ minSize: 2048, maxSize: 2048 }), 'upload', upload()), true, 'inclusive');
  assert.equal(matches(rule({ minSize: 2049 }), 'upload', upload()), false);
  assert.equal(matches(rule({ maxSize: 10 }), 'upload', upload()), false);
  assert.equal(matches(rule({ minSize: 0 }), 'upload', upload({ size: undefined })), false);
  assert.equal(matches(rule({ status: 'failed' }), 'upload', upload()), false);
  assert.equal(matches(rule({ status: 'failed' }), 'upload', upload({ status: 'failed' })), true);
});

test('source CIDRs, IPv4 and IPv6, with IPv4-mapped clients counted as IPv4', () => {
  const from = (sources: string[], remoteAddress: string) =>
    matches(rule({ sources }), 'upload', upload({ remoteAddress }));
  assert.equal(from(['192.0.2.0/24'], '192.0.2.10'), true);
  assert.equal(from(['192.0.2.0/24'], '198.51.100.1'), false);
  assert.equal(from(['192.0.2.0/24'], '::ffff:192.0.2.77'), true);
  assert.equal(from(['2001:db8::/32'], '2001:db8:1::5'), true);
  assert.equal(from(['2001:db8::/32'], '2001:db9::5'), false);
  assert.equal(from(['203.0.113.5'], '203.0.113.5'), true);
  assert.equal(from(['203.0.113.5'], 'not-an-address'), false);
});

test('a time window in local time wraps midnight and counts the weekday it opened on', () => {
  const at = (d: Date, timeWindow: RuleConditions['timeWindow']) =>
    matches(rule({ timeWindow }), 'upload', upload({ at: d.toISOString() }));
  // 2026-01-02 is a Friday.
  const friday = (h: number, m = 0) => new Date(2026, 0, 2, h, m);
  const saturday = (h: number, m = 0) => new Date(2026, 0, 3, h, m);
  assert.equal(at(friday(9), { from: '08:00', to: '18:00' }), true);
  assert.equal(at(friday(18), { from: '08:00', to: '18:00' }), false, 'the end is excluded');
  assert.equal(at(friday(23, 30), { from: '22:00', to: '06:00' }), true);
  assert.equal(at(saturday(5, 59), { from: '22:00', to: '06:00' }), true);
  assert.equal(at(saturday(6), { from: '22:00', to: '06:00' }), false);
  assert.equal(at(saturday(2), { from: '22:00', to: '06:00', days: ['fri'] }), true, "Friday night's window");
  assert.equal(at(saturday(23), { from: '22:00', to: '06:00', days: ['fri'] }), false);
  assert.equal(at(friday(12), { from: '08:00', to: '18:00', days: ['mon', 'tue'] }), false);
});

test('bad conditions are refused when compiled, naming what is wrong', () => {
  assert.throws(() => compileConditions({ sources: ['10.0.0.0/33'] }), /prefix/);
  assert.throws(() => compileConditions({ sources: ['example.com'] }), /not an IP/);
  assert.throws(() => compileConditions({ timeWindow: { from: '24:00', to: '01:00' } }), /HH:MM/);
  assert.throws(
    () => compileConditions({ timeWindow: { from: '01:00', to: '02:00', days: ['xyz'] } }),
    /weekday/,
  );
  assert.throws(() => compileConditions({ minSize: 10, maxSize: 5 }), /size range/);
});

const segment = fc.stringMatching(/^[a-zA-Z0-9._-]{1,8}$/);
const virtualPath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`);

test('property: ** under a directory matches exactly the paths below it', () => {
  fc.assert(
    fc.property(segment, virtualPath, (dir, path) => {
      const re = pathGlob(`/${dir}/**`);
      assert.equal(re.test(`/${dir}${path}`), true);
      assert.equal(re.test(path), path.startsWith(`/${dir}/`));
    }),
  );
});

test('property: * never crosses a slash', () => {
  fc.assert(
    fc.property(virtualPath, (path) => {
      assert.equal(pathGlob('/*').test(path), path.lastIndexOf('/') === 0);
    }),
  );
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const toInt = (a: readonly number[]) => a.reduce((n, b) => n * 256 + b, 0);

test('property: an IPv4 CIDR holds exactly the addresses sharing its prefix bits', () => {
  fc.assert(
    fc.property(ipv4, ipv4, fc.integer({ min: 0, max: 32 }), (net, addr, bits) => {
      const block = 2 ** (32 - bits);
      const expected = Math.floor(toInt(net) / block) === Math.floor(toInt(addr) / block);
      const test = compileConditions({ sources: [`${net.join('.')}/${bits}`] });
      assert.equal(test({ remoteAddress: addr.join('.') }, {}), expected);
    }),
  );
});

const clock = fc.tuple(fc.nat(23), fc.nat(59));
const hhmm = ([h, m]: [number, number]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;

test('property: a window and its complement split every minute of the day between them', () => {
  fc.assert(
    fc.property(clock, clock, clock, (a, b, t) => {
      fc.pre(hhmm(a) !== hhmm(b));
      const at = new Date(2026, 0, 5, t[0], t[1]).toISOString();
      const inside = compileConditions({ timeWindow: { from: hhmm(a), to: hhmm(b) } })({ at }, {});
      const outside = compileConditions({ timeWindow: { from: hhmm(b), to: hhmm(a) } })({ at }, {});
      assert.notEqual(inside, outside);
    }),
  );
});

test('login events carry the front end they came from: a rule for FTPS or web sign-ins fires for those alone', () => {
  const login = (detail: Record<string, unknown>) =>
    ruleEventOf({
      type: 'session',
      phase: 'auth',
      at: new Date(),
      sessionId: 's1',
      remoteAddress: '192.0.2.10',
      username: 'alice',
      detail: { method: 'password', ...detail },
    });
  const ftpsFailed = login({ result: 'wrong password', protocol: 'ftps' });
  const webOk = login({ result: 'accepted', protocol: 'https' });
  const sshFailed = login({ result: 'wrong password' });
  assert.deepEqual(
    [
      ftpsFailed?.name,
      ftpsFailed?.fields.protocol,
      webOk?.name,
      webOk?.fields.protocol,
      sshFailed?.fields.protocol,
    ],
    ['login-failed', 'ftps', 'login', 'https', 'ssh'],
  );
  const ftpsOnly = rule({ protocols: ['ftps'] }, ['login-failed']);
  assert.equal(matches(ftpsOnly, 'login-failed', ftpsFailed!.fields), true);
  assert.equal(matches(ftpsOnly, 'login-failed', sshFailed!.fields), false);
});
