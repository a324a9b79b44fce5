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
    const { quietOnClosedStdout } = await import('./cli/common.js');
    // `ferry users list | head`: output cut short by the reader is not an error.
    quietOnClosedStdout();
    const { checkEnvironment, parseWithoutCompiling } = await import('./config/load.js');
    if (command !== 'serve') parseWithoutCompiling();
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
