// Stop signals that arrive while a serving process starts. Node's default for SIGTERM/SIGINT is to die at once, and
// a server's listeners accept (and log in) clients before its start-up has finished: a signal in that window would
// lose what a clean stop writes (the sessions' disconnect records, a drain). They are held instead, and replayed
// into the real handlers once the process can stop cleanly.

const HELD: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

export class HeldSignals {
  readonly #arrived: NodeJS.Signals[] = [];
  readonly #handlers = new Map<NodeJS.Signals, () => void>();

  /** Holds SIGTERM and SIGINT from now on. */
  constructor() {
    for (const signal of HELD) {
      const handler = () => {
        this.#arrived.push(signal);
      };
      this.#handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** Whether a stop signal came while held. */
  get arrived(): boolean {
    return this.#arrived.length > 0;
  }

  /**
   * Hands over to `onSignal`, which takes the signals from now on and is first given the held ones, in their order.
   * The new handler is added before the holding one goes: a signal never finds none (node's default, death).
   */
  release(onSignal: (signal: NodeJS.Signals) => void): void {
    for (const signal of HELD) {
      process.on(signal, () => onSignal(signal));
      const handler = this.#handlers.get(signal);
      if (handler) process.removeListener(signal, handler);
    }
    this.#handlers.clear();
    for (const signal of this.#arrived.splice(0)) onSignal(signal);
  }
}
