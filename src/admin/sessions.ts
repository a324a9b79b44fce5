// Ending an open SSH connection on an administrator's word, recorded with who did it and whom it cut off.
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import type { Actor } from './actor.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

/** The connection that was ended, as the process holding it saw it. */
export interface KilledSession {
  readonly id: string;
  readonly username: string | null;
  readonly remoteAddress: string;
  readonly pid: number;
  /** The node that held it (cluster mode). */
  readonly node?: string | undefined;
}

/**
 * Ends the connection with this id wherever it is held (this process; under `serve --workers N` another worker;
 * in cluster mode another node); undefined when no process holds it. Given by the front end that can reach the serving processes.
 */
export type SessionTerminator = (id: string) => Promise<KilledSession | undefined>;

/** SSH and FTPS session ids are 12 hex digits (ssh/connection.ts); web client sign-ins' `web-` and 12 base64url. */
const WEB_SESSION_ID = /^web-[A-Za-z0-9_-]{12}$/;
const sessionIdSchema = z
  .string()
  .refine(
    (id) => /^[0-9a-f]{12}$/.test(id) || WEB_SESSION_ID.test(id),
    'must be a session id (12 hex digits, or web- and 12 letters for a web client sign-in)',
  );

/** Whether the id is a web client sign-in's (web/session-token.ts), ended through the store rather than a socket. */
export function isWebSessionId(id: string): boolean {
  return WEB_SESSION_ID.test(id);
}

export class SessionAdmin {
  readonly #record: AdminRecorder;

  constructor(recorder: AdminRecorder) {
    this.#record = recorder;
  }

  /** Ends the connection, then records who ended it and whose it was. */
  async kill(actor: Actor, id: string, terminate: SessionTerminator): Promise<KilledSession> {
    checkActor(actor);
    const sessionId = parseInput(sessionIdSchema, id);
    const killed = await terminate(sessionId);
    if (!killed) throw new NotFoundError(`no open session ${sessionId} (see GET /api/sessions)`);
    await this.#record.record(actor, 'sessions.kill', `session ${sessionId}`, {
      user: killed.username,
      remoteAddress: killed.remoteAddress,
      pid: killed.pid,
      ...(killed.node !== undefined ? { node: killed.node } : {}),
    });
    return killed;
  }
}
