// Questions on the controlling terminal: a line, yes/no, and a password read without echo.
import type { Readable, Writable } from 'node:stream';
import { FerryError } from '../errors.js';
import { Secret } from '../util/secret.js';

export class PromptCancelledError extends FerryError {
  constructor() {
    super('ERR_INVALID_ARGUMENT', 'cancelled');
  }
}

type TtyInput = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Reads one line; with `echo` false nothing typed is shown (raw mode on a TTY). */
export function readLine(
  question: string,
  options: { echo?: boolean; input?: TtyInput; output?: Writable } = {},
): Promise<string> {
  const input = options.input ?? (process.stdin as TtyInput);
  const output = options.output ?? process.stderr;
  const echo = options.echo ?? true;
  const raw = !echo && input.isTTY === true && typeof input.setRawMode === 'function';
  // Echo goes off before the prompt shows, so nothing typed in answer to it can be echoed.
  if (raw) input.setRawMode!(true);
  output.write(question);
  input.resume();
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      if (raw) input.setRawMode!(false);
      input.pause();
      if (!echo) output.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onEnd = () => finish(line === '' ? new PromptCancelledError() : undefined);
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new PromptCancelledError());
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    input.on('data', onData);
    input.on('end', onEnd);
  });
}

export async function readPassword(question: string): Promise<Secret<string>> {
  return new Secret(await readLine(question, { echo: false }));
}

/** OpenSSH's wording: only 'yes' accepts; the fingerprint itself is accepted too. */
export async function confirm(question: string, fingerprint?: string): Promise<boolean> {
  for (;;) {
    const answer = (await readLine(question)).trim();
    if (answer === 'yes' || (fingerprint !== undefined && answer === fingerprint)) return true;
    if (answer === 'no' || answer === '') return false;
    process.stderr.write("Please type 'yes', 'no' or the fingerprint: ");
    question = '';
  }
}
