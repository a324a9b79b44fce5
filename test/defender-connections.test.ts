// The defender against connections already open and against key enumeration, as an attacker and a user see them.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import ssh2 from 'ssh2';
import { startTestServer, type TestServer } from './helpers/server.js';

const { utils } = ssh2;
type AuthMethod = Parameters<Extract<ssh2.ConnectConfig['authHandler'], (...args: never[]) => unknown>>[2];
type NextAuth = Parameters<AuthMethod>[0];

interface Outcome {
  /** The client logged in (and is still connected when `client` is returned). */
  readonly ready: boolean;
  /** How many authentication requests the client got to send. */
  readonly tries: number;
}

/**
 * Connects from `from` and authenticates with `methods` in turn (a function is called when the client is about
 * to authenticate, and may pause it); resolves when the client logged in or the server closed the connection.
 */
function sshLogin(
  port: number,
  from: string,
  methods: Array<NextAuth | (() => Promise<NextAuth>)>,
): Promise<Outcome & { client: ssh2.Client }> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let tries = 0;
    client.on('error', () => {});
    client.once('ready', () => resolve({ ready: true, tries, client }));
    client.once('close', () => resolve({ ready: false, tries, client }));
    client.connect({
      host: '127.0.0.1',
      port,
      localAddress: from,
      readyTimeout: 20_000,
      // Required by ssh2; every method below names its own user.
      username: 'unused',
      authHandler: (_left, _partial, next) => {
        const method = methods.shift();
        if (!method) return next(false as unknown as NextAuth);
        tries++;
        void Promise.resolve(typeof method === 'function' ? method() : method).then(next);
      },
    });
  });
}

/** Whether a new TCP connection from `from` is served (gets the SSH banner) or cut at once. */
function served(port: number, from: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from });
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('close', () => resolve(false));
  });
}

const closed = (client: ssh2.Client, ms = 5000) =>
  new Promise<boolean>((resolve) => {
    client.once('close', () => resolve(true));
    setTimeout(() => resolve(false), ms);
  });

describe('the defender and connections already open', () => {
  let server: TestServer;
  const kayKey = utils.generateKeyPairSync('ed25519');
  const strangers = Array.from({ length: 40 }, () => utils.generateKeyPairSync('ed25519'));
  const keyAuth = (pair: { private: string }): NextAuth => ({
    type: 'publickey',
    username: 'kay',
    key: pair.private,
  });
  const password = (user: string, pw: string): NextAuth => ({
    type: 'password',
    username: user,
    password: pw,
  });

  before(async () => {
    server = await startTestServer({ config: { defenderThreshold: 3, defenderBanTime: 60 } });
    await server.addUser('kay', { publicKeys: [kayKey.public] });
    await server.addUser('pat', { password: 'pat-pw' });
  });
  after(() => server.close());

  const host = (address: string) => server.running.context.store.defender.get(address);

  test('a few refused key queries before the right key cost a quarter point each and do not ban', async () => {
    const login = await sshLogin(server.port, '127.0.0.41', [
      ...strangers.slice(0, 3).map(keyAuth),
      keyAuth(kayKey),
    ]);
    login.client.end();
    assert.equal(login.ready, true, 'the client with three other keys in its agent still logs in');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await host('127.0.0.41'))?.score, 0.75);
    assert.equal(await served(server.port, '127.0.0.41'), true);
  });

  test('key enumeration is cut off: refused key queries add up to a ban that closes the connection', async () => {
    const probing = await sshLogin(server.port, '127.0.0.42', strangers.map(keyAuth));
    assert.equal(probing.ready, false);
    // Threshold 3 is twelve refused queries; the ban lands while the client is still asking.
    assert.ok(probing.tries < strangers.length, `the server cut the prober off (${probing.tries} queries)`);
    const banned = await host('127.0.0.42');
    assert.ok(banned?.bannedUntil && banned.bannedUntil > new Date(), 'the address is banned');
    assert.match(banned.lastReason, /key query/);
    assert.equal(await served(server.port, '127.0.0.42'), false, 'new connections are refused');
    assert.equal(
      (await sshLogin(server.port, '127.0.0.49', [keyAuth(kayKey)])).ready,
      true,
      'other addresses log in',
    );
  });

  /** A login that pauses when it is about to authenticate (its handshake is done) until `release` is called. */
  function pausedLogin(from: string) {
    let release: (method: NextAuth) => void = () => {};
    let paused: () => void = () => {};
    const handshakeDone = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const outcome = sshLogin(server.port, from, [
      () =>
        new Promise<NextAuth>((resolve) => {
          release = resolve;
          paused();
        }),
    ]);
    return { handshakeDone, outcome, release: (method: NextAuth) => release(method) };
  }

  test("a ban closes the address's open connections, logged in or not; other addresses keep theirs", async () => {
    const victim = await sshLogin(server.port, '127.0.0.43', [password('pat', 'pat-pw')]);
    const bystander = await sshLogin(server.port, '127.0.0.44', [password('pat', 'pat-pw')]);
    assert.ok(victim.ready && bystander.ready);
    const waiting = pausedLogin('127.0.0.43');
    await waiting.handshakeDone;
    const victimClosed = closed(victim.client);
    const bystanderClosed = closed(bystander.client, 1500);
    try {
      for (let i = 0; i < 3; i++) {
        const failed = await sshLogin(server.port, '127.0.0.43', [password('pat', `wrong-${i}`)]);
        assert.equal(failed.ready, false);
      }
      assert.equal(await victimClosed, true, 'the logged-in session of the banned address is closed');
      const outcome = await Promise.race([
        waiting.outcome,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3000)),
      ]);
      assert.equal(outcome?.ready, false, 'the connection waiting to log in is closed before it tries');
      assert.equal(await bystanderClosed, false, 'another address keeps its session');
      const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
        bystander.client.sftp((e, s) => (e ? reject(e) : resolve(s))),
      );
      const home = await new Promise<string>((resolve, reject) =>
        sftp.realpath('.', (e, p) => (e ? reject(e) : resolve(p))),
      );
      assert.equal(home, '/');
    } finally {
      waiting.release(password('pat', 'pat-pw'));
      victim.client.end();
      bystander.client.end();
    }
  });

  test('a ban decided by another process stops logins on connections already open', async () => {
    const login = pausedLogin('127.0.0.45');
    await login.handshakeDone;
    // Another worker's defender writes the ban to the shared store; this process's defender never hears of it.
    const defender = server.running.context.store.defender;
    const scored = await defender.score('127.0.0.45', 3, 'login failed: wrong password', new Date(), 300);
    assert.equal(await defender.ban('127.0.0.45', new Date(Date.now() + 60_000), scored.banCount), true);
    login.release(password('pat', 'pat-pw'));
    const outcome = await login.outcome;
    assert.equal(outcome.ready, false, 'even the right password is not accepted on the open connection');
    assert.equal(await served(server.port, '127.0.0.45'), false);
  });
});
