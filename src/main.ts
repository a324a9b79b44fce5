// The `ferry` command line: one sub-command per file in cli/.
import { Command, CommanderError } from 'commander';
import { registerAuditCommand } from './cli/audit.js';
import { describeError, quietOnClosedStdout } from './cli/common.js';
import { registerDefenderCommand } from './cli/defender.js';
import { registerInitCommand } from './cli/init.js';
import { registerJobsCommand } from './cli/jobs.js';
import { registerKeysCommand } from './cli/keys.js';
import { registerPartnersCommand } from './cli/partners.js';
import { registerServeCommand } from './cli/serve.js';
import { registerSftpCommand } from './cli/sftp.js';
import { registerUsersCommand } from './cli/users.js';
import { checkEnvironment } from './config/load.js';

const program = new Command('ferry')
  .description('Ferry: a managed file transfer (MFT) server built around SFTP')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerInitCommand(program);
registerServeCommand(program);
registerUsersCommand(program);
registerKeysCommand(program);
registerDefenderCommand(program);
registerAuditCommand(program);
registerPartnersCommand(program);
registerJobsCommand(program);
registerSftpCommand(program);

// `ferry users list | head`: output cut short by the reader is not an error.
quietOnClosedStdout();

try {
  checkEnvironment();
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const { message, exitCode } = describeError(err);
    process.stderr.write(`ferry: ${message.replaceAll('\n', '; ')}\n`);
    process.exitCode = exitCode;
  }
}
