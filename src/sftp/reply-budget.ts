// Reply budgeting: the bytes of accepted requests and their replies that one session holds, counted against the
// session's own limit and, when there is one, its connection's (and through it its user's) shared budget.
import type { BudgetAccount } from '../core/types.js';

export class SessionByteBudget {
  readonly #maxBufferedBytes: number;
  readonly #account: BudgetAccount | undefined;
  /** Bytes of accepted requests (and their READ replies) not yet handed to the SSH layer. */
  #bufferedBytes = 0;
  /** The part of #bufferedBytes taken from the connection's budget and not yet given back. */
  #held = 0;

  constructor(maxBufferedBytes: number, account: BudgetAccount | undefined) {
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#account = account;
  }

  /**
   * The session holds its limit or more: accept nothing until some is released. Checked before accepting, so
   * one request larger than the limit still gets through when nothing is held.
   */
  get full(): boolean {
    return this.#bufferedBytes >= this.#maxBufferedBytes;
  }

  /** False, taking nothing, when `cost` does not fit the connection's budget; try again once it has room. */
  tryTake(cost: number): boolean {
    if (this.#account && !this.#account.tryTake(cost)) return false;
    if (this.#account) this.#held += cost;
    this.#bufferedBytes += cost;
    return true;
  }

  /** Gives back what one request took, once its reply has been handed to the SSH layer (or dropped). */
  release(cost: number): void {
    this.#bufferedBytes -= cost;
    this.#giveBack(cost);
  }

  /** At teardown: replies the channel will never flush must not keep the connection's budget. */
  releaseAll(): void {
    this.#giveBack(this.#held);
  }

  /** Calls `listener` when the connection's budget has room again; returns how to stop. */
  onRoom(listener: () => void): (() => void) | undefined {
    return this.#account?.onRoom(listener);
  }

  #giveBack(amount: number): void {
    const back = Math.min(amount, this.#held);
    if (back <= 0) return;
    this.#held -= back;
    this.#account?.give(back);
  }
}
