// kysely's runtime values, required as CommonJS: its ES build is ~280 files, which ESM loads measurably slower
// (resolve, link and evaluate each) on every `ferry` command that opens the store. Types still come from 'kysely'.
// The build bundles that CommonJS build into one file (scripts/bundle-kysely.mjs), which the compiled code
// (dist/store/kysely.js) loads from dist/vendor/; the sources, run by tsx, require the package.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const BUNDLE = '../vendor/kysely.cjs';

function load(): typeof import('kysely') {
  try {
    return require(BUNDLE);
  } catch (err) {
    // Only "there is no bundle here" falls back: a bundle that fails to load is an error worth seeing.
    const missing =
      (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(err).includes(BUNDLE);
    if (!missing) throw err;
    return require('kysely');
  }
}

const kysely = load();

export const { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } = kysely;
