// Starts a real Ferry server in-process on an ephemeral port with a temp data dir, for integration tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUser, homeDirOf, parsePermissions } from '../../src/auth/user-admin.js';
import { loadConfig } from '../../src/config/load.js';
import { type RunningFerry, startFerry } from '../../src/server.js';
import type { AuthMethod, UserRecord } from '../../src/store/types.js';
import { Secret } from '../../src/util/secret.js';

export interface TestUserOptions {
  password?: string;
  /** authorized_keys / .pub texts. */
  publicKeys?: string[];
  require?: AuthMethod[];
  /** e.g. ['/=list,download', '/in=*'] */
  perms?: string[];
  /** CIDRs the user may log in from. */
  allowFrom?: string[];
}

export interface TestServer {
  readonly port: number;
  readonly dataDir: string;
  readonly running: RunningFerry;
  addUser(name: string, options?: TestUserOptions): Promise<UserRecord>;
  homeOf(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Extra config keys (uploadMode, algorithms, maxAuthTries, loginGraceTime, ...). */
  config?: Record<string, unknown>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-test-'));
  const config = loadConfig({
    env: {},
    flags: {
      dataDir,
      listen: '127.0.0.1',
      sftpPort: 0,
      logLevel: process.env.FERRY_LOG_LEVEL ?? 'silent',
      // Test clients connect from 127.0.0.1 and fail on purpose, often: the defender would ban them mid-file.
      // Tests of the defender and of per-address limits use other loopback addresses (127.0.0.2 and up).
      allowList: '127.0.0.1',
      // The HTTP API on a free port too (the default 8080 is shared by every test).
      http: { listen: '127.0.0.1:0' },
      ...options.config,
    },
  });
  const running = await startFerry(config, () => {});
  const users = running.context.store.users;
  return {
    port: running.port,
    dataDir,
    running,
    addUser: (name, o = {}) =>
      addUser(users, {
        name,
        password: o.password === undefined ? undefined : new Secret(o.password),
        publicKeysText: o.publicKeys ?? [],
        requiredMethods: o.require ?? [],
        permissions: o.perms ? parsePermissions(o.perms, {}) : undefined,
        allowedSources: o.allowFrom ?? [],
      }),
    homeOf: async (name) => homeDirOf((await users.findByName(name))!, running.context.paths.homes),
    close: async () => {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
