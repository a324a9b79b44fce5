// Pre-operation gates: asked by the core before an upload, a download or a delete starts; a refusal is final.
import { PermissionDeniedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { HandleHost } from './handle-host.js';
import type { OpenMode, SessionIdentity } from './types.js';

export type PreOperation = 'upload' | 'download' | 'delete';

export interface PreOperationContext {
  readonly user: string;
  /** Canonical virtual path. */
  readonly path: string;
  /** Bytes, when known before the operation (an open's attributes); usually absent. */
  readonly size?: number;
  readonly protocol: SessionIdentity['protocol'];
  readonly remoteAddress: string;
  readonly sessionId: string;
}

export type PreOperationDecision =
  | { readonly allow: true }
  | { readonly allow: false; readonly rule: string; readonly reason: string };

/**
 * Decides whether an operation may start (automation/hooks.ts runs the pre-upload, pre-download and
 * pre-delete rules). It bounds its own latency, and answers rather than throws; a throw refuses.
 */
export interface PreOperationGate {
  check(op: PreOperation, context: PreOperationContext): Promise<PreOperationDecision>;
}

/** An operation a gate refused: permission denied to the client, the rule and reason in events and audit. */
export class PreOperationDeniedError extends PermissionDeniedError {
  readonly rule: string;
  readonly reason: string;
  constructor(rule: string, reason: string) {
    super(`Permission denied by rule ${rule}: ${reason}`);
    this.rule = rule;
    this.reason = reason;
  }
}

/**
 * A session's use of the gate. `gate` is read on every check (the composition root sets it once the rules are
 * loaded); without one every operation is allowed at the cost of one call.
 */
export class SessionGate {
  readonly #identity: SessionIdentity;
  readonly #gate: (() => PreOperationGate | undefined) | undefined;
  readonly #emitTransfer: HandleHost['emitTransfer'];
  readonly #log: Logger;

  constructor(
    identity: SessionIdentity,
    gate: (() => PreOperationGate | undefined) | undefined,
    emitTransfer: HandleHost['emitTransfer'],
    log: Logger,
  ) {
    this.#identity = identity;
    this.#gate = gate;
    this.#emitTransfer = emitTransfer;
    this.#log = log;
  }

  /**
   * Before a file is opened: writing is an upload, reading alone a download. A refused open never reaches
   * the backend (no partial, no file) and is recorded as a failed transfer naming the rule.
   */
  async open(path: string, mode: OpenMode, size: number | undefined): Promise<void> {
    const direction = mode.write ? 'upload' : 'download';
    try {
      await this.check(direction, path, size);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      void this.#emitTransfer({
        direction,
        path,
        bytes: 0,
        durationMs: 0,
        resumedFrom: 0,
        completed: false,
        error,
        errorCode: 'ERR_PERMISSION_DENIED',
      });
      throw err;
    }
  }

  /** Throws PreOperationDeniedError when the gate refuses (or fails). */
  async check(op: PreOperation, path: string, size?: number): Promise<void> {
    const gate = this.#gate?.();
    if (gate === undefined) return;
    const id = this.#identity;
    let decision: PreOperationDecision;
    try {
      decision = await gate.check(op, {
        user: id.username,
        path,
        ...(size !== undefined ? { size } : {}),
        protocol: id.protocol,
        remoteAddress: id.remoteAddress,
        sessionId: id.sessionId,
      });
    } catch (err) {
      // Fail closed: a gate that cannot answer does not let the operation through.
      this.#log.error({ err, op, path }, 'pre-operation gate failed; operation refused');
      throw new PreOperationDeniedError('(pre-operation hooks)', 'the check failed');
    }
    if (!decision.allow) throw new PreOperationDeniedError(decision.rule, decision.reason);
  }
}
