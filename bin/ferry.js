#!/usr/bin/env node
// Entry point for `ferry`: runs the JavaScript that `npm ci` compiled into dist/ (`npm run build`).
// A checkout whose sources changed since that build runs them through tsx instead, slowly and with a
// warning, so a developer never runs code older than what they are reading.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'main.js');
// The files tsconfig.build.json leaves out of the build: editing them leaves dist/ up to date.
const NOT_BUILT = /(\.test|-fixture|^contract)\.ts$/;

/** Why dist/ cannot be trusted, or undefined when it can (or when there are no sources to compare with). */
function staleReason() {
  const builtAt = statSync(compiled, { throwIfNoEntry: false })?.mtimeMs;
  if (builtAt === undefined) return 'dist/ has not been built';
  let sources;
  try {
    sources = readdirSync(join(root, 'src'), { recursive: true });
  } catch {
    return undefined; // An install without sources runs what it has.
  }
  for (const file of sources) {
    if (!file.endsWith('.ts') || NOT_BUILT.test(file.slice(file.lastIndexOf('/') + 1))) continue;
    if (statSync(join(root, 'src', file)).mtimeMs > builtAt) return `src/${file} is newer than dist/`;
  }
  return undefined;
}

const stale = process.env.FERRY_SKIP_BUILD_CHECK === '1' ? undefined : staleReason();
if (stale === undefined) {
  await import('../dist/main.js');
} else {
  process.stderr.write(`ferry: ${stale}; running the sources through tsx (slow). Run 'npm run build'.\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
