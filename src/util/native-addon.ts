// Where the native addons (native/<name>/, built by `npm install`) are, from the sources or the build.
import { fileURLToPath } from 'node:url';

/**
 * The built addon `native/<name>/build/Release/<name>.node`. Resolved from this file, which sits two levels
 * below the package in src/util/, in dist/util/ and in the bundle's dist/bundle/ alike (scripts/bundle-app.mjs
 * refuses a build where a module at another depth finds files by relative path).
 */
export function nativeAddonPath(name: string): string {
  return fileURLToPath(new URL(`../../native/${name}/build/Release/${name}.node`, import.meta.url));
}
