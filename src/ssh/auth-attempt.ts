// An ssh2 authentication request as the authenticator's attempt: the method's fields, a password as a Secret,
// a keyboard-interactive prompt as a function that asks the client one question.
import type { AuthContext } from 'ssh2';
import type { AuthAttempt } from '../auth/authenticator.js';
import { Secret } from '../util/secret.js';

export function toAttempt(ctx: AuthContext): AuthAttempt {
  switch (ctx.method) {
    case 'none':
      return { method: 'none', username: ctx.username };
    case 'password':
      return { method: 'password', username: ctx.username, password: new Secret(ctx.password) };
    case 'publickey':
      return {
        method: 'publickey',
        username: ctx.username,
        algorithm: ctx.key.algo,
        blob: ctx.key.data,
        signature:
          ctx.signature && ctx.blob
            ? { data: ctx.blob, signature: ctx.signature, hashAlgo: ctx.hashAlgo }
            : undefined,
      };
    case 'keyboard-interactive':
      return {
        method: 'keyboard-interactive',
        username: ctx.username,
        ask: (prompt) =>
          new Promise((resolve) =>
            ctx.prompt([{ prompt, echo: false }], 'Ferry', '', (answers) => resolve(answers[0])),
          ),
      };
    default:
      return { method: 'other', username: ctx.username, name: ctx.method };
  }
}
