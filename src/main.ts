// The `ferry` command line: one sub-command per file in cli/, each loaded only when it runs (cli/program.ts).
import { CommanderError } from 'commander';
import { addCommands, namedCommand, rootProgram } from './cli/program.js';

const args = process.argv.slice(2);
const program = rootProgram();

try {
  // --version and the root help load nothing more: the error reporting, the environment check (zod) and the
  // command's module come in only when a command runs.
  const command = namedCommand(args);
  if (command !== undefined) {
    // Before any schema is built (cli/common.ts and config/load.ts build the config's).
    if (command !== 'serve') (await import('./config/one-shot.js')).parseWithoutCompiling();
    const { quietOnClosedStdout } = await import('./cli/common.js');
    // `ferry users list | head`: output cut short by the reader is not an error.
    quietOnClosedStdout();
    const { checkEnvironment } = await import('./config/load.js');
    checkEnvironment();
  }
  await addCommands(program, args);
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const { describeError } = await import('./cli/common.js');
    const { message, exitCode } = describeError(err);
    process.stderr.write(`ferry: ${message.replaceAll('\n', '; ')}\n`);
    process.exitCode = exitCode;
  }
}
