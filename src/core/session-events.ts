// The events one session emits: transfers and audited file operations, stamped with who, where and how.

import { PermissionDeniedError, toFerryError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { FileOperationEvent, TransferEvent } from '../events/types.js';
import type { HandleHost } from './handle-host.js';
import type { SessionIdentity } from './types.js';
import { type PathLimits, resolveVirtualPath } from './virtual-path.js';

export type FileOp = FileOperationEvent['operation'];

function describeError(err: unknown): string {
  // A refusal by a pre-operation rule names the rule (PreOperationDeniedError); others stay generic.
  if (err instanceof PermissionDeniedError) return 'rule' in err ? err.message : 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

export class SessionEvents {
  readonly identity: SessionIdentity;
  readonly #events: EventBus;
  readonly #limits: PathLimits;

  constructor(identity: SessionIdentity, events: EventBus, limits: PathLimits) {
    this.identity = identity;
    this.#events = events;
    this.#limits = limits;
  }

  base() {
    return {
      at: new Date(),
      sessionId: this.identity.sessionId,
      username: this.identity.username,
      remoteAddress: this.identity.remoteAddress,
      protocol: this.identity.protocol,
    };
  }

  emitTransfer(fields: Parameters<HandleHost['emitTransfer']>[0]): Promise<void> {
    const event: TransferEvent = { type: 'transfer', ...this.base(), ...fields };
    return this.#events.emit(event);
  }

  emitFileOp(
    operation: FileOp,
    path: string,
    target: string | undefined,
    error: unknown,
    detail?: Readonly<Record<string, unknown>>,
  ): void {
    const event: FileOperationEvent = {
      type: 'file-op',
      ...this.base(),
      operation,
      path: this.auditPath(path),
      // A symlink's target is link text, not a path of ours: recorded as sent.
      ...(target !== undefined ? { target: operation === 'symlink' ? target : this.auditPath(target) } : {}),
      ...(detail !== undefined ? { detail } : {}),
      ok: error === undefined,
      ...(error !== undefined ? { error: describeError(error), errorCode: toFerryError(error).code } : {}),
    };
    this.#events.emit(event);
  }

  /** Audit records carry the canonical virtual path; input that does not resolve is kept as sent. */
  auditPath(path: string): string {
    try {
      return resolveVirtualPath(path, this.#limits);
    } catch {
      return path;
    }
  }
}
