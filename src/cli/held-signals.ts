// Signals that arrive while a serving process starts (from the start of `serve`'s own code; before it, while node
// loads the modules, node's default still applies). Node's default for SIGTERM, SIGINT and SIGHUP is to die at
// once, and a server's listeners accept (and log in) clients before its start-up has finished: a stop signal in
// that window would lose what a clean stop writes (the sessions' disconnect records, a drain), and a reload
// (`systemctl reload`, SIGHUP) would kill a server that was only starting. They are held instead, and replayed
// into the real handlers once the process can act on them.
import { constants } from 'node:os';

const HELD = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type HeldSignal = (typeof HELD)[number];

export class HeldSignals {
  readonly #arrived: HeldSignal[] = [];
  readonly #handlers = new Map<HeldSignal, () => void>();

  /**
   * Holds SIGTERM, SIGINT and SIGHUP from now on. A second stop signal (SIGTERM or SIGINT) while one is held ends
   * the process at once: an operator who insists, or a start-up stuck waiting (a PostgreSQL migration lock), is
   * not kept waiting. A service manager escalates to SIGKILL after its own timeout anyway.
   */
  constructor() {
    for (const signal of HELD) {
      const handler = () => {
        if (signal !== 'SIGHUP' && this.#arrived.some((held) => held !== 'SIGHUP')) {
          process.stderr.write(`ferry: start-up interrupted (${signal} while a stop was waiting for it)\n`);
          process.exit(128 + constants.signals[signal]);
        }
        this.#arrived.push(signal);
      };
      this.#handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /**
   * Hands over to `handlers`, which take the signals from now on and are first given the held ones, in their order.
   * A new handler is added before the holding one goes: a signal never finds none (node's default, death).
   */
  release(handlers: Readonly<Record<HeldSignal, () => void>>): void {
    for (const signal of HELD) {
      process.on(signal, handlers[signal]);
      const holding = this.#handlers.get(signal);
      if (holding) process.removeListener(signal, holding);
    }
    this.#handlers.clear();
    for (const signal of this.#arrived.splice(0)) handlers[signal]();
  }
}
