// Idle detection: a file session wrapped so every request and transfer marks the connection as active.
import type { DirHandle, FileHandle, FileSession } from '../core/types.js';

/** Returns a FileSession that calls `touch()` on every operation, including reads and writes on its handles. */
export function withActivity(session: FileSession, touch: () => void): FileSession {
  // The core knows its own handle objects (copyData checks them), so wrapped handles are unwrapped on the way back in.
  const originals = new WeakMap<object, object>();
  const wrapHandle = <T extends FileHandle | DirHandle>(handle: T): T => {
    const wrapped = new Proxy(handle, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          touch();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    originals.set(wrapped, handle);
    return wrapped;
  };
  return new Proxy(session, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        touch();
        const unwrapped = args.map((a) =>
          typeof a === 'object' && a !== null ? (originals.get(a) ?? a) : a,
        );
        const result = (value as (...a: unknown[]) => unknown).apply(target, unwrapped);
        if ((prop === 'openFile' || prop === 'openDir') && result instanceof Promise) {
          return result.then((handle: FileHandle | DirHandle) => wrapHandle(handle));
        }
        return result;
      };
    },
  });
}
