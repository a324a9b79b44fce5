// Statements built and compiled once per shape, then run with new values: for the store's hottest queries, where
// kysely's query builder and compiler cost more CPU than SQLite takes to run the statement (docs/PERFORMANCE.md).
import type { Compilable, CompiledQuery as Compiled, Kysely } from 'kysely';
import { CompiledQuery } from './kysely.js';
import type { Database } from './schema.js';

/** Stands for the `index`-th value of a run while a shape is compiled; never reaches a database. */
class Slot {
  readonly index: number;
  constructor(index: number) {
    this.index = index;
  }
}

/**
 * The `index`-th value of each run, in a query built for a shape: typed as whatever the builder expects there.
 * Kysely keeps a value it does not know as a bound parameter, so the slot comes back out of `compile()` in the
 * parameter list, wherever the dialect put it.
 */
export function slot<T = never>(index: number): T {
  return new Slot(index) as unknown as T;
}

/** `count` slots from `first` on (an `IN (...)` list, one row's columns). */
export function slots<T = never>(first: number, count: number): T[] {
  return Array.from({ length: count }, (_, i) => slot<T>(first + i));
}

interface Shape {
  readonly sql: string;
  /** The compiled parameters: a Slot takes the run's value of that index, anything else is a constant. */
  readonly parameters: readonly unknown[];
  readonly slotCount: number;
}

/** Distinct shapes kept; `IN (...)` lists and multi-row INSERTs of each length are shapes of their own. */
const DEFAULT_CAPACITY = 512;

/**
 * A cache of compiled statements by name. `run` builds the query the first time a name is asked for (with
 * `slot(i)` wherever a value goes), compiles it for this dialect, and from then on only binds the values:
 * the SQL text is the same each time, so the SQLite driver's statement cache also prepares it once.
 */
export class StatementShapes {
  readonly #shapes = new Map<string, Shape>();
  readonly #capacity: number;

  constructor(capacity: number = DEFAULT_CAPACITY) {
    this.#capacity = Math.max(1, capacity);
  }

  /** The statement named `name` (built by `build` when new) with `values` bound to its slots. */
  query<R>(name: string, build: () => Compilable<R>, values: readonly unknown[]): Compiled<R> {
    let shape = this.#shapes.get(name);
    if (shape === undefined) {
      const compiled = build().compile();
      let slotCount = 0;
      for (const p of compiled.parameters)
        if (p instanceof Slot) slotCount = Math.max(slotCount, p.index + 1);
      shape = { sql: compiled.sql, parameters: compiled.parameters, slotCount };
      this.#shapes.set(name, shape);
      // Oldest first out: names in use are asked for again at once, a rare list length ages away.
      if (this.#shapes.size > this.#capacity) this.#shapes.delete(this.#shapes.keys().next().value as string);
    }
    if (values.length !== shape.slotCount)
      throw new Error(`statement '${name}' takes ${shape.slotCount} values, given ${values.length}`);
    const parameters = shape.parameters.map((p) => (p instanceof Slot ? values[p.index] : p));
    return CompiledQuery.raw(shape.sql, parameters) as Compiled<R>;
  }

  /** Runs the named statement on `db` (a transaction's connection or the store's). */
  async run<R>(
    db: Kysely<Database>,
    name: string,
    build: () => Compilable<R>,
    values: readonly unknown[],
  ): Promise<{ readonly rows: R[]; readonly affected: number }> {
    const result = await db.executeQuery(this.query(name, build, values));
    return { rows: result.rows, affected: Number(result.numAffectedRows ?? 0) };
  }

  /** Shapes held now (tests). */
  get size(): number {
    return this.#shapes.size;
  }
}

/** One cache per dialect (its adapter): a transaction's connection shares the store's shapes. */
const byDialect = new WeakMap<object, StatementShapes>();

/** The compiled shapes of `db`'s dialect. */
export function shapesOf(db: Kysely<Database>): StatementShapes {
  const adapter = db.getExecutor().adapter;
  let shapes = byDialect.get(adapter);
  if (shapes === undefined) {
    shapes = new StatementShapes();
    byDialect.set(adapter, shapes);
  }
  return shapes;
}

/** `count` rows of `columns`, every value a slot: row r's column c is value r·columns + c of the run. */
export function slotRows<C extends string>(columns: readonly C[], count: number): Record<C, never>[] {
  return Array.from(
    { length: count },
    (_, r) =>
      Object.fromEntries(columns.map((column, c) => [column, slot(r * columns.length + c)])) as Record<
        C,
        never
      >,
  );
}

/** The values of `rows` in `columns` order, row after row: what `slotRows(columns, rows.length)` takes. */
export function rowValues<C extends string>(
  columns: readonly C[],
  rows: readonly Readonly<Record<C, unknown>>[],
): unknown[] {
  const values: unknown[] = [];
  for (const row of rows) for (const column of columns) values.push(row[column]);
  return values;
}
