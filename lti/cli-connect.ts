// How `npm run platform` reaches the platform registry, whether or not the tool runs:
// - DATABASE_URL set: connect to PostgreSQL directly (the tool's nodes may be running; that is safe).
// - embedded database, a live tool holds DATA_DIR: talk to its admin API (PGlite allows one process).
// - embedded database, the lock is held but the tool is not serving yet: wait for it (bounded).
// - embedded database, no tool: take the DATA_DIR lock ourselves and open the database directly.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redactUrl, type Settings } from '../config/index.ts';
import { Database, DataDirInUseError, DataDirLock } from '../server/db/index.ts';
import type { Logger } from '../server/logger/index.ts';
import { AdminClient } from './admin-client.ts';
import { readAdminToken } from './admin-token.ts';
import { Lti } from './index.ts';
import { KEY_FILE, resolveLtiKey } from './key.ts';
import type { PlatformAdmin } from './platforms.ts';

const POLL_MS = 250;

/** A reason the CLI cannot reach the registry, ready to print. */
export class ConnectError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConnectError';
  }
}

export interface AdminSession {
  admin: PlatformAdmin;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** How long to wait for a tool that holds DATA_DIR but does not serve yet. */
  waitMs: number;
  /** Prints one line for the person at the terminal (stderr). */
  say: (line: string) => void;
  logger: Logger;
}

async function openDirectly(settings: Settings, database: Database, logger: Logger, release: () => void): Promise<AdminSession> {
  try {
    // The CLI serves no launches: it needs the platforms, not the routes.
    const lti = await Lti.create({ settings, orm: database.orm, logger, key: resolveLtiKey(settings.ltiKey, settings.dataDir).key });
    return {
      admin: lti.platforms,
      async close() {
        await lti.close();
        await database.close();
        release();
      },
    };
  } catch (error) {
    await database.close().catch(() => {});
    release();
    throw error;
  }
}

async function openPostgres(settings: Settings, databaseUrl: string, options: ConnectOptions): Promise<AdminSession> {
  // ltijs encrypts each platform's key pair with the LTI key: a key generated here would not be the
  // one the tool uses, and the tool could not read what we store.
  if (settings.ltiKey === undefined && !existsSync(join(settings.dataDir, KEY_FILE))) {
    throw new ConnectError(
      `no LTI key: set LTI_KEY to the tool's value (or run this where DATA_DIR ${settings.dataDir} holds the tool's ${KEY_FILE}).`,
    );
  }
  options.say(`using DATABASE_URL ${redactUrl(databaseUrl) ?? '(not a URL)'}`);
  const database = await Database.connect(databaseUrl, options.logger);
  return openDirectly(settings, database, options.logger, () => {});
}

async function openEmbedded(settings: Settings, options: ConnectOptions): Promise<AdminSession> {
  const { dataDir } = settings;
  const deadline = Date.now() + options.waitMs;
  let waiting = false;
  for (;;) {
    let lock: DataDirLock;
    try {
      lock = DataDirLock.acquire(dataDir);
    } catch (error) {
      if (!(error instanceof DataDirInUseError)) throw error;
      const { owner } = error;
      if (owner.url !== undefined) {
        let token: string;
        try {
          token = readAdminToken(dataDir);
        } catch (cause) {
          throw new ConnectError(
            `the tool (pid ${owner.pid}) serves at ${owner.url}, but ${join(dataDir, 'admin.token')} cannot be read ` +
              `(${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): run this as the user the tool runs as.`,
            { cause },
          );
        }
        options.say(`via the running tool at ${owner.url}`);
        return { admin: new AdminClient(owner.url, token), close: async () => {} };
      }
      if (Date.now() >= deadline) {
        throw new ConnectError(
          `the tool (pid ${owner.pid} on ${owner.hostname}) holds DATA_DIR ${dataDir} but did not start serving within ` +
            `${Math.round(options.waitMs / 1000)} s; try again once it has started, or stop it.`,
        );
      }
      if (!waiting) {
        waiting = true;
        options.say(`the tool (pid ${owner.pid}) holds DATA_DIR ${dataDir} and is starting; waiting up to ${Math.round(options.waitMs / 1000)} s`);
      }
      await sleep(POLL_MS);
      continue;
    }
    options.say(`tool not running; opened DATA_DIR ${dataDir} directly`);
    let database: Database;
    try {
      database = await Database.openEmbedded(dataDir);
    } catch (error) {
      lock.release();
      throw error;
    }
    return openDirectly(settings, database, options.logger, () => lock.release());
  }
}

export function openAdmin(settings: Settings, options: ConnectOptions): Promise<AdminSession> {
  return settings.databaseUrl === undefined ? openEmbedded(settings, options) : openPostgres(settings, settings.databaseUrl, options);
}
