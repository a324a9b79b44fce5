// Composition root: the one place that picks implementations from validated config; disposable.
import { join } from 'node:path';
import type { FerryConfig } from './config/schema.js';
import { createFileSessionFactory } from './core/file-session.js';
import type { FileSessionFactory } from './core/types.js';
import { EventBus } from './events/bus.js';
import { loggers } from './logger.js';
import { openSqliteStore } from './store/sqlite/sqlite-store.js';
import { LocalFs } from './vfs/local/local-fs.js';
import type { Store } from './store/types.js';

export interface DataPaths {
  readonly database: string;
  readonly hostKeys: string;
  readonly homes: string;
}

export function dataPaths(dataDir: string): DataPaths {
  return {
    database: join(dataDir, 'ferry.db'),
    hostKeys: join(dataDir, 'host-keys'),
    homes: join(dataDir, 'homes'),
  };
}

export class AppContext {
  readonly config: FerryConfig;
  readonly paths: DataPaths;
  readonly store: Store;
  readonly events: EventBus;
  readonly fileSessions: FileSessionFactory;

  private constructor(config: FerryConfig, store: Store) {
    this.config = config;
    this.paths = dataPaths(config.dataDir);
    this.store = store;
    this.events = new EventBus(loggers.events);
    this.fileSessions = createFileSessionFactory({
      events: this.events,
      logger: loggers.core,
      fs: new LocalFs(),
      uploadMode: config.uploadMode,
    });
  }

  static async create(config: FerryConfig): Promise<AppContext> {
    const store = await openSqliteStore(dataPaths(config.dataDir).database);
    return new AppContext(config, store);
  }

  async dispose(): Promise<void> {
    await this.store.close();
  }
}
