// The import rule of docs/ARCHITECTURE.md, enforced: modules import only what their row allows, and no file cycles.
// (dependency-cruiser cannot parse TypeScript 7 sources, so this small checker does its job.)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '..', 'src');

/**
 * Module (top folder, or file at the root of src, or a nested module listed in NESTED) → modules it may
 * import. Files are `name.ts`.
 */
const BASE = ['errors.ts', 'logger.ts', 'health.ts', 'util', 'config'];
const RULES: Record<string, string[]> = {
  'main.ts': ['*'],
  cli: ['*'],
  'context.ts': ['*'],
  // Admin services: every administrative operation, shared by the CLI, the REST API and the console.
  admin: ['store', 'keys', 'key-manager', 'auth', 'audit', 'events', 'transfers', ...BASE],
  api: ['admin', 'core', 'store', 'keys', 'key-manager', 'audit', 'auth', 'events', ...BASE],
  web: ['core', 'store', 'keys', 'audit', ...BASE],
  transfers: ['core', 'vfs', 'store', 'keys', 'events', 'sftp/wire', ...BASE],
  ssh: ['sftp', 'scp', 'auth', 'core/types.ts', 'keys', 'key-manager', 'events', 'store/types.ts', ...BASE],
  'key-manager': ['keys', 'store/types.ts', ...BASE],
  sftp: ['sftp/wire', 'core/types.ts', 'vfs/types.ts', 'events/types.ts', ...BASE],
  // The SFTP wire format both the server (sftp/) and the client engine (transfers/) speak.
  'sftp/wire': ['errors.ts'],
  scp: ['core/types.ts', ...BASE],
  core: ['vfs/types.ts', 'store/types.ts', 'events', ...BASE],
  auth: ['store/types.ts', 'keys', 'core/types.ts', ...BASE],
  events: ['store/types.ts', ...BASE],
  audit: ['store/types.ts', 'events', 'keys', ...BASE],
  store: ['keys', 'core/types.ts', ...BASE],
  vfs: ['keys', ...BASE],
  keys: BASE,
  config: ['errors.ts', 'util'],
  util: [],
  'errors.ts': [],
  'logger.ts': [],
  'health.ts': ['logger.ts'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !/(\.test|-fixture|^contract)\.ts$/.test(name) ? [path] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)]
    .map((m) => m[1] ?? m[2]!)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

/** Folders inside a module that are modules of their own, with their own row. */
const NESTED = ['sftp/wire'];
const moduleOf = (rel: string) =>
  NESTED.find((n) => rel.startsWith(`${n}/`)) ?? (rel.includes('/') ? rel.split('/')[0]! : rel);
const allows = (allowed: string[], rel: string) =>
  allowed.some((a) => a === '*' || rel === a || rel.startsWith(`${a}/`));

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const problems: string[] = [];

for (const [file, deps] of graph) {
  const rel = relative(SRC, file);
  const mod = moduleOf(rel);
  const allowed = RULES[mod];
  if (!allowed) {
    problems.push(`${rel}: module '${mod}' has no row in the import rules (scripts/check-imports.ts)`);
    continue;
  }
  for (const dep of deps) {
    const depRel = relative(SRC, dep);
    if (depRel.startsWith('..')) continue;
    if (moduleOf(depRel) === mod) continue;
    if (!allows(allowed, depRel))
      problems.push(`${rel} imports ${depRel}: '${mod}' may import only ${allowed.join(', ') || 'nothing'}`);
  }
}

// Cycle detection over files (depth-first, colouring).
const state = new Map<string, 'open' | 'done'>();
const stack: string[] = [];
function visit(file: string): void {
  state.set(file, 'open');
  stack.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (!graph.has(dep)) continue;
    if (state.get(dep) === 'open') {
      const cycle = stack
        .slice(stack.indexOf(dep))
        .concat(dep)
        .map((f) => relative(SRC, f));
      problems.push(`import cycle: ${cycle.join(' → ')}`);
    } else if (!state.has(dep)) visit(dep);
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of files) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`imports: ${files.length} files follow the module rules, no cycles\n`);
