// Builds the LDAP password source from the validated `ldap` config (the composition root's one call).
import type { FerryConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { UserRepository } from '../../store/types.js';
import type { ExternalPasswordSource } from '../external-login.js';
import { LdapDirectory, readBindPasswordFile } from './directory.js';
import { DirectoryLogin } from './directory-login.js';

/** The directory login of `config.ldap`, or undefined when no `ldap.url` is set. Reads its files now. */
export function createDirectoryLogin(
  ldap: FerryConfig['ldap'],
  users: UserRepository,
  log: Logger,
): ExternalPasswordSource | undefined {
  if (ldap.url === undefined || ldap.userBase === undefined) return undefined;
  const bindPassword = ldap.bindPasswordFile
    ? readBindPasswordFile(ldap.bindPasswordFile)
    : ldap.bindPassword;
  const directory = new LdapDirectory(
    {
      url: ldap.url,
      startTls: ldap.startTls,
      caFile: ldap.caFile,
      bindDn: ldap.bindDn,
      bindPassword,
      userBase: ldap.userBase,
      userFilter: ldap.userFilter,
      usernameAttribute: ldap.usernameAttribute,
      groupBase: ldap.groupBase,
      groupFilter: ldap.groupFilter,
      disabledAttribute: ldap.disabledAttribute,
      timeout: ldap.timeout,
    },
    log,
  );
  return new DirectoryLogin(
    directory,
    users,
    {
      groupMap: ldap.groupMap,
      templateUser: ldap.templateUser,
      requireGroup: ldap.requireGroup,
      homeTemplate: ldap.homeTemplate,
      cacheTtl: ldap.cacheTtl,
    },
    log,
  );
}
