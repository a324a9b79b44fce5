// Part of `npm run build`, after tsc: Ferry's compiled modules (dist/, ~250 loaded by a command that opens the
// store) bundled into dist/bundle/ by esbuild, which bin/ferry.js runs. Node resolves, reads and links each ES
// module on its own; one module per entry point and per dynamic import (`splitting`) loads the same code in a
// few files (`ferry users list` ~0.1 s faster, docs/PERFORMANCE.md). What each process loads stays what its
// imports reach: a chunk holds only modules every importer of it needs. dist/bundle/modules.json lists each
// chunk's modules (the tests that check what a process loads read it).
//
// Packages stay in node_modules (native addons, files read by path, copies shared with other packages), except
// those only Ferry uses whose many small files every command loads: commander, zod (with the Fastify type
// provider, its only other user here, so one copy of zod runs) and croner.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'bundle');
const INLINED = new Set(['commander', 'zod', 'fastify-type-provider-zod', 'croner']);

/**
 * Every chunk sits two levels below the package (dist/bundle/), as do most modules in src/ and dist/: a module
 * that finds a file by a relative path from its own URL ('../../package.json', a native addon) must sit there
 * too and climb out of its folder ('../'), or its path breaks in the bundle only. Refused here rather than at
 * run time.
 */
function checkRelativePaths() {
  const offenders = [];
  for (const file of readdirSync(join(ROOT, 'src'), { recursive: true })) {
    if (!file.endsWith('.ts') || /(\.test|-fixture)\.ts$/.test(file)) continue;
    // Module specifiers (static and dynamic imports) are the bundler's business, not file paths; comments neither.
    const text = readFileSync(join(ROOT, 'src', file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
      .replace(/from\s+['"][^'"]+['"]/g, '')
      .replace(/import\(\s*['"][^'"]+['"]\s*\)/g, '');
    if (!/import\.meta\.(url|dirname)/.test(text)) continue;
    // '../x' means the same file from dist/<dir>/ and dist/bundle/; './x' does not.
    const upward = /['"`]\.\.\/|['"]\.\.['"]/.test(text);
    const sameFolder = /['"`]\.\/[^'"`]/.test(text);
    if (sameFolder || (upward && file.split(sep).length !== 2)) offenders.push(`src/${file}`);
  }
  if (offenders.length > 0) {
    throw new Error(
      `${offenders.join(', ')}: finds files relative to import.meta from a folder the bundle moves it out of ` +
        "(to dist/bundle/): use '../' paths from a module two levels below the package (util/native-addon.ts)",
    );
  }
}

checkRelativePaths();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })
  .filter((name) => !INLINED.has(name))
  .flatMap((name) => [name, `${name}/*`]);
const result = await build({
  entryPoints: [join(DIST, 'main.js')],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // commander is CommonJS: inlined into an ES module it still calls require() for node: builtins.
  banner: {
    js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
  },
});

/** chunk (relative to the package) → the modules in it (relative to the package: dist/…, node_modules/…). */
const chunks = {};
for (const [output, meta] of Object.entries(result.metafile.outputs)) {
  if (!output.endsWith('.js')) continue;
  chunks[relative(ROOT, join(process.cwd(), output))] = Object.keys(meta.inputs)
    .map((input) => relative(ROOT, join(process.cwd(), input)))
    .sort();
}
writeFileSync(join(OUT, 'modules.json'), `${JSON.stringify(chunks, null, 1)}\n`);
