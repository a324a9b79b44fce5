// What the store contract suites share: a fresh store per test, always closed and cleaned up after it.
import type { Store } from './types.js';

/** A driver's factory of fresh, empty stores (SQLite file, PostgreSQL database). */
export type MakeStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/** Runs a test body on a fresh store from `makeStore`, then closes the store and cleans up, pass or fail. */
export function storeRunner(makeStore: MakeStore): (run: (store: Store) => Promise<void>) => Promise<void> {
  return async (run) => {
    const { store, cleanup } = await makeStore();
    try {
      await run(store);
    } finally {
      await store.close();
      await cleanup();
    }
  };
}
