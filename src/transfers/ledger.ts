// Which source files a job still has to transfer: those whose path, size and mtime the ledger has not seen.
import { InvalidArgumentError } from '../errors.js';
import type { LedgerEntry } from '../store/types.js';

export interface SourceFile {
  /** Name inside the job's source directory. */
  readonly name: string;
  readonly size: number;
  /** Whole seconds. */
  readonly mtime: number;
}

/** A file changed since it was transferred (new size or mtime) is transferred again; an unchanged one is not. */
export function alreadyTransferred(ledger: ReadonlyMap<string, LedgerEntry>, file: SourceFile): boolean {
  const seen = ledger.get(file.name);
  return seen !== undefined && seen.size === file.size && seen.mtime === file.mtime;
}

export function pendingFiles(
  ledger: ReadonlyMap<string, LedgerEntry>,
  files: readonly SourceFile[],
): SourceFile[] {
  return files.filter((f) => !alreadyTransferred(ledger, f)).sort((a, b) => a.name.localeCompare(b.name));
}

export type AfterAction =
  | { readonly kind: 'keep' }
  | { readonly kind: 'delete' }
  | { readonly kind: 'move'; readonly dir: string };

export function parseAfter(text: string): AfterAction {
  if (text === 'keep' || text === '') return { kind: 'keep' };
  if (text === 'delete') return { kind: 'delete' };
  if (text.startsWith('move:') && text.length > 'move:'.length) return { kind: 'move', dir: text.slice(5) };
  throw new InvalidArgumentError(`--after must be keep, delete or move:DIR, not '${text}'`);
}
