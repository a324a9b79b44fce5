// USER and PASS: the password goes through the same authenticator, lockout and defender scoring as SSH logins;
// a user whose policy needs a second factor cannot log in over FTPS (no second prompt exists in FTP).

import { ConnectionAuthenticator } from '../auth/authenticator.js';
import { DEFENDER_SCORES } from '../auth/defender.js';
import { passwordChangeDue } from '../auth/password-policy.js';
import { homeDirOf } from '../auth/user-admin.js';
import { PermissionPolicy } from '../core/permissions.js';
import { sessionLimitsOf } from '../core/session-limits.js';
import { Secret } from '../util/secret.js';
import type { CommandContext } from './context.js';
import { FtpReplyError } from './replies.js';

const authenticators = new WeakMap<CommandContext, ConnectionAuthenticator>();

function emitAuth(ctx: CommandContext, username: string, result: string, source?: string): void {
  ctx.options.events.emit({
    type: 'session',
    phase: 'auth',
    at: new Date(),
    sessionId: ctx.sessionId,
    remoteAddress: ctx.remoteAddress,
    username,
    detail: { method: 'password', result, protocol: 'ftps', ...(source ? { source } : {}) },
  });
}

export function user(ctx: CommandContext, arg: string): void {
  if (ctx.files) throw new FtpReplyError(503, 'Already logged in');
  ctx.pendingUser = arg;
  ctx.reply(331, 'Password required');
}

export async function pass(ctx: CommandContext, arg: string): Promise<void> {
  const { options } = ctx;
  const username = ctx.pendingUser;
  if (ctx.files) throw new FtpReplyError(503, 'Already logged in');
  if (username === undefined) throw new FtpReplyError(503, 'USER first');
  ctx.pendingUser = undefined;
  let authenticator = authenticators.get(ctx);
  if (!authenticator) {
    authenticator = new ConnectionAuthenticator(options.users, {
      maxAuthTries: options.maxAuthTries,
      remoteAddress: ctx.remoteAddress,
      accounts: options.accounts,
      lockout: options.lockout,
      protocols: ['ftps'],
      directory: options.directory,
    });
    authenticators.set(ctx, authenticator);
  }
  if ((await options.defender.verdict(ctx.remoteAddress)) !== 'allow') {
    ctx.close();
    return;
  }
  const decision = await authenticator.attempt({ method: 'password', username, password: new Secret(arg) });
  // The client may have gone while its password was checked: nothing is opened for a closed connection.
  if (ctx.gone.aborted) return;
  if (decision.result === 'accept') {
    const record = decision.user;
    // FTP has no way to set a new password: the user is told where to change it, and nothing is opened.
    const due = options.passwordPolicy ? passwordChangeDue(record, options.passwordPolicy) : undefined;
    if (due) {
      ctx.log.info({ user: record.name, reason: due }, 'login refused: password must be changed');
      emitAuth(ctx, username, 'password change required');
      ctx.reply(
        530,
        'Password expired: change it over SSH (sftp or ssh) or in the web client, then log in again',
      );
      return;
    }
    const admitted = await ctx.hooks.authenticated(record.name);
    if (ctx.gone.aborted) return;
    if (!admitted) {
      ctx.reply(421, 'Too many sessions for this user');
      ctx.close();
      return;
    }
    ctx.budgets = options.budgets?.openConnection(record.name);
    ctx.files = options.fileSessions(
      {
        sessionId: ctx.sessionId,
        username: record.name,
        virtualId: record.id,
        homeDir: homeDirOf(record, options.homesDir),
        permissions: record.permissions,
        ...sessionLimitsOf(record),
        remoteAddress: ctx.remoteAddress,
        protocol: 'ftps',
      },
      { handles: ctx.budgets?.handles, signal: ctx.gone },
    );
    ctx.user = record;
    ctx.policy = new PermissionPolicy(record.permissions);
    ctx.log = ctx.log.child({ user: record.name });
    ctx.log.info({ method: 'password' }, 'authenticated');
    emitAuth(ctx, username, 'accepted', decision.source);
    ctx.reply(230, 'Logged in');
    return;
  }
  // 'partial': the password was right but the policy wants another factor FTP cannot ask for.
  const reason = decision.result === 'reject' ? decision.reason : 'second factor required';
  ctx.log.info({ user: username, reason }, 'authentication failed');
  emitAuth(ctx, username, reason, decision.source);
  options.defender
    .penalize(ctx.remoteAddress, DEFENDER_SCORES.loginFailed, `ftps login failed: ${reason}`)
    .catch((err: unknown) => ctx.log.error({ err }, 'defender failed'));
  ctx.reply(530, 'Login incorrect');
  if (decision.result === 'reject' && decision.tooMany) {
    options.defender
      .penalize(ctx.remoteAddress, DEFENDER_SCORES.tooManyAuthTries, 'too many authentication failures')
      .catch((err: unknown) => ctx.log.error({ err }, 'defender failed'));
    ctx.close();
  }
}
