// The import rule of docs/ARCHITECTURE.md, enforced: the module table is read from the doc (its one source), every
// file in src/ (tests and fixtures included) imports only what its row allows, and no files form a cycle.
// (dependency-cruiser cannot parse TypeScript 7 sources, so this small checker does its job.)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const TABLE_HEADING = '## Modules (src/)';

/** One module (a folder of src/, or a file at its root) and what it may import. */
export interface ModuleRule {
  /** Position of the module's row in the table; imports flow to larger rows only. */
  readonly row: number;
  /** Modules ('core') or files ('core/types.ts'); '*' for everything. */
  readonly allowed: readonly string[];
}

export type ImportRules = ReadonlyMap<string, ModuleRule>;

export class ModuleTableError extends Error {
  readonly code = 'ERR_MODULE_TABLE';
}

/** `core/` → 'core', `core/types.ts` and `main.ts` as they are; anything else is not a src path. */
function srcPath(token: string, where: string): string {
  // A folder, possibly nested (`sftp/wire/`: a module of its own inside `sftp/`).
  if (/^[a-z][a-z0-9-]*(\/[a-z0-9-]+)*\/$/.test(token)) return token.slice(0, -1);
  if (/^[a-z][a-z0-9-]*(\/[a-z0-9-]+)*\.ts$/.test(token)) return token;
  throw new ModuleTableError(
    `${where}: \`${token}\` is neither a folder (\`name/\`) nor a file (\`name.ts\`)`,
  );
}

/** A folder's module is the folder; a file at the root of src/ is its own module, and its test belongs to it. */
const topModuleOf = (path: string) =>
  path.includes('/') ? path.split('/')[0]! : path.replace(/\.test\.ts$/, '.ts');

/** The module of a path under `rules`: a nested module's row (`sftp/wire`) wins over its parent folder's. */
function moduleIn(rules: ImportRules): (path: string) => string {
  const nested = [...rules.keys()].filter((m) => m.includes('/') && !m.endsWith('.ts'));
  return (path) => nested.find((m) => path === m || path.startsWith(`${m}/`)) ?? topModuleOf(path);
}

/** Reads the "Modules (src/)" table of docs/ARCHITECTURE.md into rules; a cell it cannot read exactly is an error. */
export function parseModuleTable(markdown: string): ImportRules {
  const start = markdown.indexOf(TABLE_HEADING);
  if (start < 0) throw new ModuleTableError(`no '${TABLE_HEADING}' section`);
  const section = markdown.slice(start);
  const lineOffset = markdown.slice(0, start).split('\n').length - 1;

  const definition = /`foundation` in the last\s+column stands for\s+((?:`[^`]+`,?\s*)+)/.exec(section);
  if (!definition) throw new ModuleTableError('the section does not say what `foundation` stands for');
  const foundation = [...definition[1]!.matchAll(/`([^`]+)`/g)].map((m) => srcPath(m[1]!, 'foundation'));

  const lines = section.split('\n');
  const headerAt = lines.findIndex((l) => l.startsWith('|'));
  if (headerAt < 0) throw new ModuleTableError('the section has no table');
  const cells = (line: string) =>
    line
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((c) => c.trim());
  const header = cells(lines[headerAt]!);
  const moduleCol = header.indexOf('module');
  const importCol = header.indexOf('may import');
  if (moduleCol < 0 || importCol < 0)
    throw new ModuleTableError("the table needs 'module' and 'may import' columns");

  const rules = new Map<string, ModuleRule>();
  const uses: { where: string; row: number; path: string }[] = [];
  let row = 0;
  for (let i = headerAt + 2; i < lines.length && lines[i]!.startsWith('|'); i++, row++) {
    const where = `docs/ARCHITECTURE.md:${lineOffset + i + 1}`;
    const rowCells = cells(lines[i]!);
    if (rowCells.length !== header.length)
      throw new ModuleTableError(`${where}: ${rowCells.length} cells, the header has ${header.length}`);

    const moduleCell = rowCells[moduleCol]!;
    const modules = [...moduleCell.matchAll(/`([^`]+)`/g)].map((m) => srcPath(m[1]!, where));
    if (modules.length === 0 || moduleCell.replace(/`[^`]+`/g, '').replace(/[,\s]/g, '') !== '')
      throw new ModuleTableError(`${where}: the module cell must be backticked names only: ${moduleCell}`);
    // A module is a folder (top-level, or nested like `sftp/wire/` with a row of its own) or a root file.
    if (modules.some((m) => m.endsWith('.ts') && m.includes('/')))
      throw new ModuleTableError(`${where}: a file module must be at the root of src/`);

    const items = rowCells[importCol]!.replace(/\s*\([^)]*\)/g, '')
      .split(',')
      .map((s) => s.trim());
    let allowed: string[];
    if (items.length === 1 && items[0] === 'everything') allowed = ['*'];
    else if (items.length === 1 && items[0] === 'nothing') allowed = [];
    else {
      allowed = items.flatMap((item) => {
        if (item === 'foundation') return foundation;
        const quoted = /^`([^`]+)`$/.exec(item);
        if (!quoted)
          throw new ModuleTableError(
            `${where}: '${item}' is not a backticked path, 'foundation', or (alone) 'everything' or 'nothing'`,
          );
        return [srcPath(quoted[1]!, where)];
      });
      for (const path of allowed) uses.push({ where, row, path });
    }
    for (const m of modules) {
      if (rules.has(m)) throw new ModuleTableError(`${where}: \`${m}\` has a row already`);
      rules.set(m, { row, allowed });
    }
  }

  // Every allowed path names a module of the table, in a row below: imports flow down the table only.
  const moduleOf = moduleIn(rules);
  for (const { where, row, path } of uses) {
    const target = rules.get(moduleOf(path));
    if (!target) throw new ModuleTableError(`${where}: \`${path}\` is in no row of the table`);
    if (target.row <= row)
      throw new ModuleTableError(`${where}: \`${path}\` is not below this row (imports flow down)`);
  }
  return rules;
}

/** Tests, fixtures and contract suites: they may also use anything below their module (see the doc). */
export const isTestCode = (path: string) => /(\.test|-fixture)\.ts$|(^|\/)contract\.ts$/.test(path);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)]
    .map((m) => m[1] ?? m[2] ?? m[3]!)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

/** Every import in `srcDir` checked against `rules`; returns the problems (none when the tree follows the table). */
export function checkImports(srcDir: string, rules: ImportRules): { files: number; problems: string[] } {
  const rel = (file: string) => relative(srcDir, file).split(sep).join('/');
  const moduleOf = moduleIn(rules);
  const files = sourceFiles(srcDir);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const problems: string[] = [];
  const allows = (allowed: readonly string[], path: string) =>
    allowed.some((a) => a === '*' || path === a || path.startsWith(`${a}/`));

  for (const [file, deps] of graph) {
    const path = rel(file);
    const mod = moduleOf(path);
    const rule = rules.get(mod);
    if (!rule) {
      problems.push(`${path}: module '${mod}' has no row in the table of docs/ARCHITECTURE.md`);
      continue;
    }
    const test = isTestCode(path);
    for (const dep of deps) {
      const depPath = rel(dep);
      if (depPath.startsWith('..')) continue;
      if (!test && isTestCode(depPath)) {
        problems.push(`${path} imports ${depPath}: only test code imports test code`);
        continue;
      }
      const depMod = moduleOf(depPath);
      if (depMod === mod || allows(rule.allowed, depPath)) continue;
      const below = (rules.get(depMod)?.row ?? -1) > rule.row;
      if (test && below) continue;
      const may = rule.allowed.join(', ') || 'nothing';
      problems.push(
        test
          ? `${path} imports ${depPath}: test code of '${mod}' may import ${may}, or modules below its row`
          : `${path} imports ${depPath}: '${mod}' may import only ${may}`,
      );
    }
  }

  // Cycle detection over files (depth-first, colouring).
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === 'open') {
        const cycle = stack.slice(stack.indexOf(dep)).concat(dep).map(rel);
        problems.push(`import cycle: ${cycle.join(' → ')}`);
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return { files: files.length, problems };
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const { values } = parseArgs({
    options: {
      src: { type: 'string', default: join(ROOT, 'src') },
      doc: { type: 'string', default: join(ROOT, 'docs', 'ARCHITECTURE.md') },
    },
  });
  let problems: string[];
  let files = 0;
  try {
    ({ files, problems } = checkImports(
      resolve(values.src),
      parseModuleTable(readFileSync(values.doc, 'utf8')),
    ));
  } catch (err) {
    if (!(err instanceof ModuleTableError)) throw err;
    problems = [`the module table cannot be read: ${err.message}`];
  }
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `imports: ${files} files (tests included) follow the table of docs/ARCHITECTURE.md, no cycles\n`,
  );
}
