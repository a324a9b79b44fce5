// Parses the exec command line of a legacy `scp -t` (sink) or `scp -f` (source) request without ever running a shell.

/** What the client asked the server to do; `paths` are virtual paths handed to the core as they are. */
export type ScpCommand = ScpSinkCommand | ScpSourceCommand;

export interface ScpSinkCommand {
  readonly kind: 'sink';
  /** Receive a tree (`-r`): D/E records are allowed. */
  readonly recursive: boolean;
  /** Keep modes and times (`-p`): T records are honoured. */
  readonly preserve: boolean;
  /** `-d`: the target must be an existing directory (the client sends several files). */
  readonly targetMustBeDirectory: boolean;
  readonly target: string;
}

export interface ScpSourceCommand {
  readonly kind: 'source';
  readonly recursive: boolean;
  readonly preserve: boolean;
  /** One or more paths, sent in order; wildcards are taken literally (there is no shell to expand them). */
  readonly sources: readonly string[];
}

/** A command line longer than this is refused; OpenSSH's own paths stay far below it. */
export const MAX_COMMAND_LENGTH = 8192;

// The flags OpenSSH's scp puts on the remote command line: -v -r -p -d, then -t or -f.
const KNOWN_FLAGS = new Set(['t', 'f', 'r', 'p', 'd', 'v']);

// Unquoted, these would make a real shell do something other than pass a path: we refuse rather than guess.
const SHELL_OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')', '`', '$']);

/** Parses the command line; returns null if it is not an scp -t/-f command we serve (the caller then refuses the exec). */
export function parseScpCommand(command: string): ScpCommand | null {
  if (command.length > MAX_COMMAND_LENGTH) return null;
  const words = splitShellWords(command);
  if (words === null || words[0] !== 'scp') return null;

  const flags = new Set<string>();
  let index = 1;
  for (; index < words.length; index++) {
    const word = words[index]!;
    if (word === '--') {
      index++;
      break;
    }
    // BSD getopt stops at the first operand, and so do we: `scp -t a -r` has two operands.
    if (!word.startsWith('-') || word === '-') break;
    for (const flag of word.slice(1)) {
      if (!KNOWN_FLAGS.has(flag)) return null;
      flags.add(flag);
    }
  }
  const paths = words.slice(index);
  if (paths.length === 0 || paths.some((path) => path.length === 0)) return null;

  const sink = flags.has('t');
  const source = flags.has('f');
  if (sink === source) return null;
  const recursive = flags.has('r');
  const preserve = flags.has('p');
  if (sink) {
    // OpenSSH answers "ambiguous target" to more than one operand.
    if (paths.length !== 1) return null;
    return { kind: 'sink', recursive, preserve, targetMustBeDirectory: flags.has('d'), target: paths[0]! };
  }
  // `-d` arrives with -f too (OpenSSH builds one flag string for both directions); it means nothing here.
  return { kind: 'source', recursive, preserve, sources: paths };
}

/**
 * Splits a command line the way a POSIX shell would split simple words: blanks separate, quotes and
 * backslashes escape, and `~` / `~/x` at the start of a word mean the user's home (our virtual '/').
 * Anything that needs more than that (operators, expansions, comments, control characters,
 * unbalanced quotes, `~user`) gives null.
 */
export function splitShellWords(line: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  // Tilde expansion applies only to an unquoted `~` that starts a word.
  let tildeCandidate = false;
  let i = 0;
  const finishWord = (): boolean => {
    if (!inWord) return true;
    if (tildeCandidate) {
      if (word === '~') word = '/';
      else if (word.startsWith('~/')) word = word.slice(1);
      else return false;
    }
    words.push(word);
    word = '';
    inWord = false;
    tildeCandidate = false;
    return true;
  };

  while (i < line.length) {
    const ch = line[i]!;
    const code = ch.charCodeAt(0);
    if ((code < 0x20 && ch !== '\t') || code === 0x7f) return null;
    if (ch === ' ' || ch === '\t') {
      if (!finishWord()) return null;
      i++;
      continue;
    }
    if (SHELL_OPERATORS.has(ch)) return null;
    if (ch === '#' && !inWord) return null;
    if (ch === '~' && !inWord) tildeCandidate = true;
    inWord = true;
    if (ch === '\\') {
      const next = line[i + 1];
      if (next === undefined) return null;
      word += next;
      i += 2;
      continue;
    }
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return null;
      word += line.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (ch === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const inner = line[i]!;
        if (inner === '"') {
          closed = true;
          i++;
          break;
        }
        // `$` and backquotes still expand inside double quotes.
        if (inner === '$' || inner === '`') return null;
        const innerCode = inner.charCodeAt(0);
        if ((innerCode < 0x20 && inner !== '\t') || innerCode === 0x7f) return null;
        if (inner === '\\') {
          const next = line[i + 1];
          if (next === undefined) return null;
          // Inside double quotes a backslash escapes only these; elsewhere it is literal.
          if (next === '"' || next === '\\' || next === '$' || next === '`') {
            word += next;
            i += 2;
            continue;
          }
        }
        word += inner;
        i++;
      }
      if (!closed) return null;
      continue;
    }
    word += ch;
    i++;
  }
  if (!finishWord()) return null;
  return words;
}
