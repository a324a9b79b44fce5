// Part of `npm run build`: kysely's CommonJS build (262 files) bundled into dist/vendor/kysely.cjs, which
// dist/store/kysely.js loads. Every command that opens the store and every server worker required those files
// one by one (a stat, a read and a compile each): 75-96 ms of `ferry users list`, against 23-28 ms for one file
// (docs/PERFORMANCE.md). The sources (src/, run by tsx in tests) keep requiring 'kysely' itself.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const require = createRequire(join(ROOT, 'package.json'));
const entry = require.resolve('kysely');
// kysely's package.json is not among its exports: found from the entry (…/kysely/dist/cjs/index.js).
const packageDir = dirname(dirname(dirname(entry)));
const { version, license } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const copyright = readFileSync(join(packageDir, 'LICENSE'), 'utf8')
  .split('\n')
  .find((line) => line.startsWith('Copyright'));

await build({
  entryPoints: [entry],
  outfile: join(ROOT, 'dist', 'vendor', 'kysely.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  banner: {
    js: `// kysely ${version} (${license}; ${copyright}), node_modules/kysely/dist/cjs bundled by scripts/bundle-kysely.mjs.`,
  },
});
