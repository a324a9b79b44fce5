// Which of Ferry's modules and packages a `ferry` process loaded: a resolve hook prints each module, and the
// bundle's chunks (dist/bundle/, scripts/bundle-app.mjs) are read as the modules they hold.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CHECKOUT = join(import.meta.dirname, '..', '..');

// A module-resolution hook (on each process' loader thread; cluster workers inherit the flag) that prints every
// module a process loads, with its pid.
const HOOKS = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process._rawDebug('LOADED ' + process.pid + ' ' + resolved.url);
  return resolved;
}`;
const REGISTER = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));`;

/** The node flags that make a process print what it loads (to stderr). */
export const PRINT_LOADED_FLAGS: readonly string[] = [
  '--import',
  `data:text/javascript,${encodeURIComponent(REGISTER)}`,
];

/** The build's map from each chunk to the modules in it, all as paths relative to the checkout. */
function bundleChunks(): Record<string, readonly string[]> {
  return JSON.parse(readFileSync(join(CHECKOUT, 'dist', 'bundle', 'modules.json'), 'utf8'));
}

/**
 * The modules each process loaded, by pid, as paths relative to the checkout (`dist/cli/serve.js`,
 * `node_modules/ssh2/lib/client.js`): a chunk of the bundle counts as every module it holds, a package the
 * bundle inlined as its files.
 */
export function loadedModules(stderr: string): Map<number, Set<string>> {
  const chunks = bundleChunks();
  const loaded = new Map<number, Set<string>>();
  for (const m of stderr.matchAll(/^LOADED (\d+) file:\/\/(.*)$/gm)) {
    const pid = Number(m[1]);
    const set = loaded.get(pid) ?? new Set<string>();
    const path = m[2]!.replace(/^.*?\/(node_modules|dist|bin)\//, '$1/');
    for (const module of chunks[path] ?? [path]) set.add(module);
    loaded.set(pid, set);
  }
  return loaded;
}
