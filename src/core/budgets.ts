// Resource budgets counted per connection and per user across the process: open handles, buffered reply bytes.
import { BudgetExceededError } from '../errors.js';
import type { BudgetAccount, ConnectionBudgets, ResourceBudgets } from './types.js';

export { BudgetExceededError };

/**
 * A limit per channel times unlimited channels is no limit: every session draws from its connection's
 * account, and every connection of a user from that user's pool, so one user opening channels or
 * connections in a loop runs out of budget long before the process runs out of descriptors or memory.
 */
export interface BudgetLimits {
  readonly perConnection: number;
  readonly perUser: number;
}

interface UserPool {
  used: number;
  /** Accounts of this user that were refused and wait for room (see BudgetAccount.onRoom). */
  readonly waiting: Set<PooledAccount>;
  accounts: number;
}

/** One kind of resource, counted per user; hands out one BudgetAccount per connection. */
export class ResourceBudget {
  readonly name: string;
  readonly limits: BudgetLimits;
  readonly #users = new Map<string, UserPool>();

  constructor(name: string, limits: BudgetLimits) {
    this.name = name;
    this.limits = limits;
  }

  /** The account of one connection of `user`; close() it when the connection ends. */
  open(user: string): BudgetAccount {
    let pool = this.#users.get(user);
    if (!pool) {
      pool = { used: 0, waiting: new Set(), accounts: 0 };
      this.#users.set(user, pool);
    }
    pool.accounts++;
    return new PooledAccount(this, user, pool, () => this.#closed(user, pool));
  }

  /** What every connection of this process holds right now (the metrics' gauge); summed on request, never kept. */
  get inUse(): number {
    let total = 0;
    for (const pool of this.#users.values()) total += pool.used;
    return total;
  }

  /** What `user`'s connections hold right now (tests, diagnostics). */
  usedBy(user: string): number {
    return this.#users.get(user)?.used ?? 0;
  }

  #closed(user: string, pool: UserPool): void {
    pool.accounts--;
    if (pool.accounts === 0 && pool.used === 0) this.#users.delete(user);
  }
}

/** A connection's share of a ResourceBudget. Takes are refused, never queued; give back what you took. */
class PooledAccount implements BudgetAccount {
  readonly #budget: ResourceBudget;
  readonly #user: string;
  readonly #pool: UserPool;
  readonly #onClose: () => void;
  #used = 0;
  #closed = false;
  /** Several sessions of one connection share its account; each may wait for room. */
  readonly #roomListeners = new Set<() => void>();

  constructor(budget: ResourceBudget, user: string, pool: UserPool, onClose: () => void) {
    this.#budget = budget;
    this.#user = user;
    this.#pool = pool;
    this.#onClose = onClose;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Whether `amount` more fits both this connection's and the user's limit. An empty account may always
   * take one unit of work however large (as a session's own byte cap lets one big request through), so a
   * single request never deadlocks; the user's pool still has to have room.
   */
  fits(amount: number): boolean {
    if (this.#closed) return false;
    const { perConnection, perUser } = this.#budget.limits;
    const connectionOk = this.#used === 0 || this.#used + amount <= perConnection;
    const userOk = this.#pool.used === 0 || this.#pool.used + amount <= perUser;
    return connectionOk && userOk;
  }

  /** Takes `amount` if it fits; otherwise false and, for onRoom listeners, a call once something is given back. */
  tryTake(amount: number): boolean {
    if (!this.fits(amount)) {
      if (this.#roomListeners.size > 0 && !this.#closed) this.#pool.waiting.add(this);
      return false;
    }
    this.#used += amount;
    this.#pool.used += amount;
    return true;
  }

  /** Like tryTake, but throws BudgetExceededError saying which limit was hit. */
  take(amount: number): void {
    if (this.tryTake(amount)) return;
    const { perConnection, perUser } = this.#budget.limits;
    const connectionFull = this.#used !== 0 && this.#used + amount > perConnection;
    throw new BudgetExceededError(
      this.#closed
        ? `${this.#budget.name}: connection is closing`
        : connectionFull
          ? `Too many ${this.#budget.name} on this connection (limit ${perConnection})`
          : `Too many ${this.#budget.name} for user ${this.#user} across connections (limit ${perUser})`,
    );
  }

  give(amount: number): void {
    const back = Math.min(amount, this.#used);
    if (back <= 0) return;
    this.#used -= back;
    this.#pool.used -= back;
    this.#wakeWaiting();
  }

  /**
   * `listener` is called (asynchronously) after a refused tryTake once any account of the same user gives
   * something back. Returns the function that removes it.
   */
  onRoom(listener: () => void): () => void {
    this.#roomListeners.add(listener);
    return () => this.#roomListeners.delete(listener);
  }

  /** The connection is gone: whatever it still holds goes back, whoever forgot to give it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.give(this.#used);
    this.#closed = true;
    this.#roomListeners.clear();
    this.#pool.waiting.delete(this);
    this.#onClose();
  }

  #wakeWaiting(): void {
    const waiting = this.#pool.waiting;
    if (waiting.size === 0) return;
    const woken = [...waiting];
    waiting.clear();
    // Not from inside give(): the waiter would re-enter its own pump while the giver is mid-update.
    setImmediate(() => {
      for (const account of woken) for (const listener of [...account.#roomListeners]) listener();
    });
  }
}

/** The budgets a connection draws from; one ledger per process, built by the composition root. */
export class ResourceLedger implements ResourceBudgets {
  readonly handles: ResourceBudget;
  readonly replyBytes: ResourceBudget;

  constructor(limits: { handles: BudgetLimits; replyBytes: BudgetLimits }) {
    this.handles = new ResourceBudget('open handles', limits.handles);
    this.replyBytes = new ResourceBudget('buffered reply bytes', limits.replyBytes);
  }

  /** Accounts for one authenticated connection of `user`; close() them all when it ends. */
  openConnection(user: string): ConnectionBudgets {
    const handles = this.handles.open(user);
    const replyBytes = this.replyBytes.open(user);
    return {
      handles,
      replyBytes,
      close: () => {
        handles.close();
        replyBytes.close();
      },
    };
  }
}
