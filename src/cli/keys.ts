// `ferry keys host|client|pgp|x509|ca ...`: the Key Manager, offline against the data dir.
import type { Command } from 'commander';
import { STORE_OPTION_HELP } from './common.js';
import { commandDescription } from './descriptions.js';
import { registerCaKeysCommand } from './keys-ca.js';
import { registerClientKeysCommand } from './keys-client.js';
import { registerHostKeysCommand } from './keys-host.js';
import { registerPgpKeysCommand } from './keys-pgp.js';
import { registerX509KeysCommand } from './keys-x509.js';

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description(commandDescription('keys'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  registerHostKeysCommand(keys);
  registerClientKeysCommand(keys);
  registerPgpKeysCommand(keys);
  registerX509KeysCommand(keys);
  registerCaKeysCommand(keys);
}
