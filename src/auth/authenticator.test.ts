import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generate } from 'otplib';
import ssh2 from 'ssh2';
import { MasterKey } from '../keys/sealing.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { type AuthAttempt, ConnectionAuthenticator } from './authenticator.js';
import { argon2VerificationCount } from './password.js';
import { TotpService } from './totp.js';
import { addUser } from './user-admin.js';

const { utils } = ssh2;
let dir: string;
let store: Store;
const goodKey = utils.generateKeyPairSync('ed25519');
const otherKey = utils.generateKeyPairSync('ed25519');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-auth-'));
  store = await openSqliteStore(join(dir, 'ferry.db'));
  await addUser(store.users, { name: 'alice', password: new Secret('alice-pw') });
  await addUser(store.users, { name: 'keyonly', publicKeysText: [goodKey.public] });
  await addUser(store.users, {
    name: 'both',
    password: new Secret('both-pw'),
    publicKeysText: [goodKey.public],
    requiredMethods: ['publickey', 'password'],
  });
  await addUser(store.users, { name: 'gone', password: new Secret('gone-pw') });
  await store.users.update('gone', { disabled: true });
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function auth(maxAuthTries = 6) {
  return new ConnectionAuthenticator(store.users, { maxAuthTries });
}
const pw = (username: string, password: string): AuthAttempt => ({
  method: 'password',
  username,
  password: new Secret(password),
});

function signed(username: string, pair: { private: string; public: string }, tamper = false): AuthAttempt {
  const priv = utils.parseKey(pair.private);
  const pub = utils.parseKey(pair.public);
  if (priv instanceof Error || Array.isArray(priv) || pub instanceof Error || Array.isArray(pub))
    throw new Error('bad test key');
  const data = Buffer.from(`session-data-${username}`);
  const signature = priv.sign(data);
  if (tamper) signature[0] = (signature[0] ?? 0) ^ 0xff;
  return {
    method: 'publickey',
    username,
    algorithm: pub.type,
    blob: pub.getPublicSSH(),
    signature: { data, signature },
  };
}

test('the right password logs in; wrong password, unknown and disabled users are rejected alike', async () => {
  assert.equal((await auth().attempt(pw('alice', 'alice-pw'))).result, 'accept');
  const failures = [pw('alice', 'nope'), pw('nobody', 'alice-pw'), pw('gone', 'gone-pw')];
  for (const attempt of failures) {
    const decision = await auth().attempt(attempt);
    assert.equal(decision.result, 'reject');
    assert.deepEqual(decision.result === 'reject' && decision.methodsLeft, ['publickey', 'password']);
  }
});

test('a key query is answered only for an authorized key, and a valid signature logs in', async () => {
  const a = auth();
  const query = { ...signed('keyonly', goodKey), signature: undefined } as AuthAttempt;
  assert.equal((await a.attempt(query)).result, 'pk-ok');
  assert.equal(
    (await a.attempt({ ...signed('keyonly', otherKey), signature: undefined } as AuthAttempt)).result,
    'reject',
  );
  assert.equal(a.failures, 0, 'queries are not failed attempts');
  assert.equal((await a.attempt(signed('keyonly', goodKey))).result, 'accept');
});

test('a wrong key or a forged signature is rejected', async () => {
  assert.equal((await auth().attempt(signed('keyonly', otherKey))).result, 'reject');
  assert.equal((await auth().attempt(signed('keyonly', goodKey, true))).result, 'reject');
  assert.equal((await auth().attempt(signed('nobody', goodKey))).result, 'reject');
  assert.equal(
    (await auth().attempt(pw('keyonly', ''))).result,
    'reject',
    'a user without a password cannot log in by password',
  );
});

test('a two-factor user needs both the key and the password, in either order', async () => {
  const a = auth();
  const first = await a.attempt(signed('both', goodKey));
  assert.deepEqual(first.result === 'partial' && [first.methodsLeft, first.user.name], [
    ['password'],
    'both',
  ]);
  const wrong = await a.attempt(pw('both', 'bad'));
  assert.equal(wrong.result, 'reject');
  assert.deepEqual(wrong.result === 'reject' && wrong.methodsLeft, ['password']);
  assert.equal((await a.attempt(pw('both', 'both-pw'))).result, 'accept');

  const b = auth();
  const half = await b.attempt(pw('both', 'both-pw'));
  assert.deepEqual(half.result === 'partial' && half.methodsLeft, ['publickey']);
  assert.equal((await b.attempt(signed('both', goodKey))).result, 'accept');

  const c = auth();
  assert.equal((await c.attempt(pw('both', 'both-pw'))).result, 'partial');
  // Switching user names drops the factor already earned.
  assert.equal((await c.attempt(pw('alice', 'wrong'))).result, 'reject');
  assert.equal((await c.attempt(signed('both', goodKey))).result, 'partial');
});

test('a withdrawn password factor (a change that was due and not made) no longer counts toward two factors', async () => {
  const a = auth();
  assert.equal((await a.attempt(pw('both', 'both-pw'))).result, 'partial');
  a.withdraw('password');
  const keyNext = await a.attempt(signed('both', goodKey));
  assert.deepEqual(
    keyNext.result === 'partial' && keyNext.methodsLeft,
    ['password'],
    'the key alone is not enough',
  );
  const b = auth();
  assert.equal((await b.attempt(signed('both', goodKey))).result, 'partial');
  assert.equal((await b.attempt(pw('both', 'both-pw'))).result, 'accept');
  b.withdraw('password');
  const again = await b.attempt(signed('both', goodKey));
  assert.deepEqual(again.result === 'partial' && again.methodsLeft, ['password']);
});

test('the attempt that reaches maxAuthTries is flagged so the connection is closed', async () => {
  const a = auth(3);
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await a.attempt(pw('alice', `wrong-${i}`)));
  assert.deepEqual(
    results.map((r) => r.result === 'reject' && r.tooMany),
    [false, false, true],
  );
  assert.equal((await auth(3).attempt({ method: 'none', username: 'alice' })).result, 'reject');
});

test('a wrong password, an unknown user and a disabled user cost the same argon2 work', async () => {
  // Counted, not timed: each refusal runs exactly one argon2id verification (a dummy hash for a name that is
  // unknown or may not log in), so none answers faster than another.
  for (const [kind, attempt] of [
    ['wrong password', pw('alice', 'wrong')],
    ['unknown user', pw('nobody', 'wrong')],
    ['disabled user', pw('gone', 'wrong')],
    ['right password', pw('alice', 'alice-pw')],
  ] as const) {
    const before = argon2VerificationCount();
    await auth().attempt(attempt);
    assert.equal(argon2VerificationCount() - before, 1, kind);
  }
});

test('of 20 logins presenting the same one-time code at once, exactly one gets in', async () => {
  const totp = new TotpService(store.accounts, MasterKey.load(undefined, join(dir, 'master.key')));
  await addUser(store.users, {
    name: 'otp-race',
    publicKeysText: [goodKey.public],
    requiredMethods: ['publickey', 'keyboard-interactive'],
  });
  const { secret, recoveryCodes } = await totp.enrol('otp-race');
  // Each connection has its key factor first, then all answer the code prompt at the same moment.
  const loginWith = async () => {
    const a = new ConnectionAuthenticator(store.users, { maxAuthTries: 6, accounts: store.accounts, totp });
    assert.equal((await a.attempt(signed('otp-race', goodKey))).result, 'partial');
    return a;
  };
  const race = async (code: string) => {
    const connections = await Promise.all(Array.from({ length: 20 }, () => loginWith()));
    const decisions = await Promise.all(
      connections.map((a) =>
        a.attempt({ method: 'keyboard-interactive', username: 'otp-race', ask: async () => code }),
      ),
    );
    return decisions.map((d) => d.result);
  };

  const code = await generate({ secret: secret.reveal() });
  const byCode = await race(code);
  assert.equal(byCode.filter((r) => r === 'accept').length, 1, `one-time code: ${byCode.join(' ')}`);
  assert.equal(byCode.filter((r) => r === 'reject').length, 19);

  const recovery = recoveryCodes[0]!;
  const byRecovery = await race(recovery);
  assert.equal(byRecovery.filter((r) => r === 'accept').length, 1, `recovery code: ${byRecovery.join(' ')}`);
  assert.equal(byRecovery.filter((r) => r === 'reject').length, 19);

  // Spending two different recovery codes at once: both work (a lost compare-and-set is retried).
  const both = await Promise.all(
    [recoveryCodes[1]!, recoveryCodes[2]!].map(async (c) =>
      (await loginWith()).attempt({
        method: 'keyboard-interactive',
        username: 'otp-race',
        ask: async () => c,
      }),
    ),
  );
  assert.deepEqual(
    both.map((d) => d.result),
    ['accept', 'accept'],
  );
  assert.equal((await store.accounts.getTotp('otp-race'))?.recoveryHashes.length, recoveryCodes.length - 3);
});
