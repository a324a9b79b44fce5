// The native/aead addon (native/aead/README.md), loaded in one place for the modules that use parts of it.
import { createRequire } from 'node:module';
import { nativeAddonPath } from './native-addon.js';

const addonPath = nativeAddonPath('aead');

/** The addon's exports, or why it did not load (not built: `npm install` builds it). */
export const aead: { readonly exports?: Record<string, unknown>; readonly error?: unknown } = (() => {
  try {
    return { exports: createRequire(import.meta.url)(addonPath) as Record<string, unknown> };
  } catch (error) {
    return { error };
  }
})();

/** The addon as `T` when it has `probe` (a function this build may predate), else undefined. */
export function aeadWith<T>(probe: string): T | undefined {
  return typeof aead.exports?.[probe] === 'function' ? (aead.exports as T) : undefined;
}
