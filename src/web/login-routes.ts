// Sign-in and sign-out for SFTP users: the same authenticator, lockout, TOTP and defender as SSH logins.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConnectionAuthenticator } from '../auth/authenticator.js';
import { DEFENDER_SCORES } from '../auth/defender.js';
import { PasswordPolicyError, passwordChangeDue } from '../auth/password-policy.js';
import { Secret } from '../util/secret.js';
import { workerTaskId } from '../util/worker-task-id.js';
import type { WebClientDeps } from './deps.js';
import { html, page } from './html.js';
import { CSRF_FIELD, cookieOptions, requireUser, userOf } from './request-user.js';
import {
  encodeSession,
  FILES_COOKIE,
  newSession,
  newSessionId,
  SESSION_SECONDS,
  type WebSession,
} from './session-token.js';

/** Before login there is no session: the form's token is checked against this cookie (double submit). */
const LOGIN_COOKIE = 'ferry_files_login';
const FAILED = 'Wrong user name, password or one-time code.';

type Form = Record<string, string | undefined>;

function loginPage(token: string, error?: string): string {
  return page(
    { title: 'Sign in', error },
    html`<form class="login" method="post" action="/files/login">
  <h1>Sign in</h1>
  <input type="hidden" name="${CSRF_FIELD}" value="${token}">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <label for="code">One-time code <small>(only if your account uses one)</small></label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6,8}">
  <button type="submit">Sign in</button>
</form>`,
  );
}

/** Records the sign-in for the live session view (and every node's cookie check); expired rows go first. */
async function recordSignIn(deps: WebClientDeps, session: WebSession, address: string): Promise<void> {
  const now = new Date();
  await deps.webSessions.removeExpired(now);
  await deps.webSessions.open({
    id: session.sid,
    username: session.user,
    remoteAddress: address,
    nodeId: deps.nodeId ?? null,
    pid: workerTaskId,
    createdAt: now,
    expiresAt: new Date(session.expires * 1000),
    bytesUp: 0,
    bytesDown: 0,
    filesUp: 0,
    filesDown: 0,
  });
}

/**
 * The sign-in again, with the new password asked twice: shown when the password must be changed (too old, or
 * flagged by an administrator) before the account may be used.
 */
function changePasswordPage(token: string, username: string, message: string, error?: string): string {
  return page(
    { title: 'Change your password', error },
    html`<form class="login" method="post" action="/files/login">
  <h1>Change your password</h1>
  <p>${message}</p>
  <input type="hidden" name="${CSRF_FIELD}" value="${token}">
  <input type="hidden" name="username" value="${username}">
  <label for="password">Current password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <label for="newPassword">New password</label>
  <input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required>
  <label for="newPassword2">New password again</label>
  <input id="newPassword2" name="newPassword2" type="password" autocomplete="new-password" required>
  <label for="code">One-time code <small>(only if your account uses one)</small></label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6,8}">
  <button type="submit">Change password and sign in</button>
</form>`,
  );
}

function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export function loginRoutes(app: FastifyInstance, deps: WebClientDeps): void {
  const config = { permission: 'public' } as const;
  const schema = { hide: true };

  const showLogin = async (reply: FastifyReply, status: number, error?: string) => {
    const token = randomBytes(18).toString('base64url');
    reply.setCookie(LOGIN_COOKIE, token, cookieOptions(deps, 3600));
    return reply.code(status).type('text/html; charset=utf-8').send(loginPage(token, error));
  };

  app.get('/files/login', { config, schema }, async (_request, reply) => showLogin(reply, 200));

  const postConfig = deps.loginRateLimit ? { ...config, rateLimit: deps.loginRateLimit } : config;
  app.post('/files/login', { config: postConfig, schema }, async (request: FastifyRequest, reply) => {
    const form = (request.body ?? {}) as Form;
    if (!sameToken(form[CSRF_FIELD], request.cookies?.[LOGIN_COOKIE]))
      return showLogin(reply, 403, 'The sign-in form expired; please try again.');
    const address = request.ip;
    if ((await deps.defender.verdict(address)) !== 'allow')
      return reply.code(403).type('text/plain').send('This address is banned or denied.');
    const username = (form.username ?? '').trim();
    const password = form.password ?? '';
    const code = (form.code ?? '').trim();
    // The sign-in's events and, when it succeeds, every record of the session share this id.
    const sessionId = newSessionId();
    const emitAuth = (method: string, result: string, source?: string) =>
      deps.events.emit({
        type: 'session',
        phase: 'auth',
        at: new Date(),
        sessionId,
        remoteAddress: address,
        username,
        detail: { method, result, protocol: 'https', ...(source ? { source } : {}) },
      });
    const refuse = async (method: string, reason: string, message = FAILED, source?: string) => {
      deps.log.info({ user: username, remoteAddress: address, reason }, 'web login failed');
      emitAuth(method, reason, source);
      await deps.defender.penalize(address, DEFENDER_SCORES.loginFailed, `web login failed: ${reason}`);
      return showLogin(reply, 401, message);
    };
    if (!username || !password) return refuse('password', 'empty user name or password');
    // A key-only account fails like a wrong password, through the same checks (and time): SSH logins all fail alike.
    const authenticator = new ConnectionAuthenticator(deps.users, {
      maxAuthTries: deps.maxAuthTries,
      remoteAddress: address,
      accounts: deps.accounts,
      lockout: deps.lockout,
      totp: deps.totp,
      protocols: ['https'],
      directory: deps.directory,
    });
    let decision = await authenticator.attempt({
      method: 'password',
      username,
      password: new Secret(password),
    });
    if (decision.result === 'partial' && decision.methodsLeft.includes('keyboard-interactive')) {
      if (!code) return showLogin(reply, 401, 'Enter the one-time code from your authenticator app.');
      decision = await authenticator.attempt({
        method: 'keyboard-interactive',
        username,
        ask: async () => code,
      });
    }
    if (decision.result !== 'accept') {
      const reason = decision.result === 'reject' ? decision.reason : 'a required method is missing';
      return refuse('password', reason, FAILED, decision.source);
    }
    let account = decision.user;
    const due = deps.passwords ? passwordChangeDue(decision.user, deps.passwords.policy) : undefined;
    if (deps.passwords && due) {
      const message =
        due === 'expired'
          ? `Your password is older than ${deps.passwords.policy.maxAgeDays} days and must be changed.`
          : 'Your password must be changed before you sign in.';
      const showChange = async (error?: string) => {
        const token = randomBytes(18).toString('base64url');
        reply.setCookie(LOGIN_COOKIE, token, cookieOptions(deps, 3600));
        return reply
          .code(403)
          .type('text/html; charset=utf-8')
          .send(changePasswordPage(token, decision.user.name, message, error));
      };
      const next = form.newPassword;
      if (next === undefined || next === '') {
        emitAuth('password', 'password change required', decision.source);
        return showChange();
      }
      if (next !== form.newPassword2) return showChange('The new passwords differ.');
      try {
        await deps.passwords.change(decision.user.name, new Secret(next));
      } catch (err) {
        if (err instanceof PasswordPolicyError) return showChange(err.message);
        throw err;
      }
      deps.log.info({ user: decision.user.name, reason: due }, 'password changed at web login');
      emitAuth('password', 'password changed', decision.source);
      // The session is stamped with the password it was opened with: the new one.
      account = (await deps.users.findByName(decision.user.name)) ?? account;
    }
    emitAuth('password', 'accepted', decision.source);
    const session = newSession(account, deps.sessionKey(), sessionId);
    await recordSignIn(deps, session, address);
    deps.log.info({ user: account.name, remoteAddress: address, sessionId: session.sid }, 'web login');
    reply.clearCookie(LOGIN_COOKIE, cookieOptions(deps));
    reply.setCookie(
      FILES_COOKIE,
      encodeSession(deps.sessionKey(), session),
      cookieOptions(deps, SESSION_SECONDS),
    );
    return reply.redirect('/files/', 303);
  });

  app.post(
    '/files/logout',
    { config, schema, preHandler: requireUser(deps, 'page') },
    async (request, reply) => {
      await deps.webSessions.close(userOf(request).session.sid);
      reply.clearCookie(FILES_COOKIE, cookieOptions(deps));
      return reply.redirect('/files/login', 303);
    },
  );
}
