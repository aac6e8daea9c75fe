// The databases a storage-level suite runs on: PGlite always, PostgreSQL when DATABASE_URL is set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Database } from '../../server/db/index.ts';
import { createTemporaryDatabase, serverUrl, type TemporaryDatabase } from './postgres.ts';

export interface Backend {
  name: string;
  /** Opens (the first time: creates) this backend's database; may be called again after close. */
  open(): Promise<Database>;
  cleanup(): Promise<void>;
}

export const silentLogger = pino({ level: 'silent' });

function pgliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'lc-storage-'));
  return {
    name: 'PGlite',
    open: () => Database.openEmbedded(dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresBackend(url: string): Backend {
  let temporary: TemporaryDatabase | undefined;
  return {
    name: 'PostgreSQL',
    async open() {
      temporary ??= await createTemporaryDatabase(url);
      return Database.connect(temporary.url, silentLogger);
    },
    cleanup: async () => temporary?.drop(),
  };
}

export function storageBackends(): Backend[] {
  return [pgliteBackend(), ...(serverUrl ? [postgresBackend(serverUrl)] : [])];
}
