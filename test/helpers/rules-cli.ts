// A data dir for `ferry rules` tests, prepared as an operator's would be: a user, a partner and a job that the
// documented examples name; the commands run against it, and its audited admin commands.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { runFerry } from './cli.js';

/** A webhook secret in the `whsec_` form (docs/RULES.md). */
export const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

export interface RulesCli {
  /** The test's temp dir (the data dir is `data` in it); set once `before` ran. */
  readonly dir: string;
  readonly dataDir: string;
  ferry(args: string[], input?: string, env?: NodeJS.ProcessEnv): ReturnType<typeof runFerry>;
  /** Runs the command and asserts it exited 0; its standard output. */
  ok(args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string>;
  /** The admin commands recorded in the audit trail, oldest first. */
  auditedCommands(): Promise<{ command: string; target: string; changes: unknown }[]>;
}

/** Registers the `before` that makes the data dir and the `after` that removes it, for the calling test file. */
export function rulesCliFixture(): RulesCli {
  let dir = '';
  let dataDir = '';
  const ferry: RulesCli['ferry'] = (args, input = '', env = {}) =>
    runFerry([...args, '--data-dir', dataDir], input, env);
  const ok: RulesCli['ok'] = async (args, input = '', env = {}) => {
    const r = await ferry(args, input, env);
    assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const auditedCommands: RulesCli['auditedCommands'] = async () => {
    const out = await ok(['audit', 'query', '--action', 'admin', '--json']);
    return out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { target: string; detail: { command: string; changes?: unknown } })
      .map((r) => ({ command: r.detail.command, target: r.target, changes: r.detail.changes }));
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-rules-cli-'));
    dataDir = join(dir, 'data');
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    // What the documented examples name: a user, a partner and a job.
    await ok(['users', 'add', 'acme', '--password-stdin'], 'Acme-pa55word-1\n');
    await ok(
      [
        'partners',
        'add',
        'acme',
        '--host',
        '127.0.0.1',
        '--port',
        '9',
        '--user',
        'ferry',
        '--password-stdin',
      ],
      'Partner-pa55word-1\n',
    );
    await ok([
      ...['jobs', 'add', 'acme-push', '--partner', 'acme', '--direction', 'push'],
      ...['--remote-dir', '/in', '--local-dir', dir],
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  return {
    get dir() {
      return dir;
    },
    get dataDir() {
      return dataDir;
    },
    ferry,
    ok,
    auditedCommands,
  };
}
