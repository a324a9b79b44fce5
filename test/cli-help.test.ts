// Every command's --help ends with an example that runs it, and shows the defaults of its options (issue 13).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { COMMAND_SUMMARIES } from '../src/cli/descriptions.js';
import { commandPath, EXAMPLES } from '../src/cli/examples.js';
import { fullProgram } from '../src/cli/program.js';
import { configSchema, SERVE_FLAGS } from '../src/config/schema.js';
import { runFerry } from './helpers/cli.js';

/** What `--help` prints for a command, the text added after the options included. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

function allCommands(root: Command): Command[] {
  const all: Command[] = [];
  const visit = (c: Command) => {
    all.push(c);
    for (const sub of c.commands) visit(sub);
  };
  for (const c of root.commands) visit(c);
  return all;
}

test('every command and sub-command shows an example that runs that command', async () => {
  const commands = allCommands(await fullProgram());
  assert.ok(commands.length > 60, `${commands.length} commands walked`);
  const missing: string[] = [];
  for (const command of commands) {
    const path = commandPath(command);
    const example = helpOf(command).match(/\nExample:\n {2}(.+)/)?.[1];
    if (example === undefined || !example.includes(`ferry ${path}`))
      missing.push(`${path}: ${example ?? 'none'}`);
  }
  assert.deepEqual(missing, [], 'commands whose help has not exactly one example, of themselves');
  const paths = new Set(commands.map(commandPath));
  assert.deepEqual(
    Object.keys(EXAMPLES).filter((path) => !paths.has(path)),
    [],
    'examples for commands that do not exist',
  );
});

test('every option with a default shows it', async () => {
  const hidden: string[] = [];
  for (const command of allCommands(await fullProgram())) {
    const help = helpOf(command);
    for (const option of command.options) {
      const value: unknown = option.defaultValue;
      if (value === undefined || value === false || (Array.isArray(value) && value.length === 0)) continue;
      // The option's entry: from its flags to the next option (or the end of the options).
      const at = help.indexOf(`  ${option.flags}`);
      const entry = help.slice(at, help.indexOf('\n  -', at + 1));
      if (at < 0 || !/default/.test(entry)) hidden.push(`${commandPath(command)} ${option.flags}`);
    }
  }
  assert.deepEqual(hidden, []);
});

test('serve --help gives the default of every flag whose setting has one', async () => {
  const serve = (await fullProgram()).commands.find((c) => c.name() === 'serve')!;
  const help = helpOf(serve).replace(/\n\s+/g, ' ');
  for (const { setting, flag } of SERVE_FLAGS) {
    const key = setting.split('.')[0] as keyof typeof configSchema.shape;
    const parsed = configSchema.shape[key].safeParse(undefined);
    if (!parsed.success || parsed.data === undefined) continue;
    const entry = help.slice(help.indexOf(`${flag} `), help.indexOf('[FERRY_', help.indexOf(`${flag} `)));
    assert.match(entry, /default/, `${flag}: ${entry}`);
  }
  assert.match(help, /--sftp-port <port> +SSH\/SFTP port \(0 picks a free port\) \(default: 2222\)/);
});

test('what a user sees: ferry users add --help and ferry --help', async () => {
  const users = await runFerry(['users', 'add', '--help']);
  assert.equal(users.code, 0, users.stderr);
  assert.match(users.stdout, /--data-dir <dir> +data directory \(default \.\/data, env FERRY_DATA_DIR\)/);
  assert.match(users.stdout, /\nExample:\n {2}.*ferry users add alice --password-stdin/);
  const root = await runFerry(['--help']);
  assert.match(root.stdout, /\nExample:\n {2}ferry init/);
  for (const name of Object.keys(COMMAND_SUMMARIES)) assert.match(root.stdout, new RegExp(`\\n  ${name} `));
});
