// The `ferry` command line: one sub-command per file in cli/.
import { Command, CommanderError } from 'commander';
import { describeError } from './cli/common.js';
import { registerServeCommand } from './cli/serve.js';
import { registerUsersCommand } from './cli/users.js';

const program = new Command('ferry')
  .description('Ferry: a managed file transfer (MFT) server built around SFTP')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerServeCommand(program);
registerUsersCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const { message, exitCode } = describeError(err);
    process.stderr.write(`ferry: ${message}\n`);
    process.exitCode = exitCode;
  }
}
