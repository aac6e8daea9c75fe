// The tool's database: PGlite in DATA_DIR by default, a PostgreSQL server when DATABASE_URL is set.
// Both speak the same SQL and run the same migrations; the rest of the code sees one Orm type.
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migratePostgres } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import type { Logger } from 'pino';
import { redactUrl } from '../../config/index.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Orm = PgDatabase<PgQueryResultHKT, Schema>;

const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));
/** pg_advisory_lock key held while migrating, so nodes starting together migrate one at a time. */
const MIGRATION_LOCK_KEY = 7_346_221_908;

export class DatabaseUnavailableError extends Error {
  constructor(description: string, cause: unknown) {
    super(`The database (${description}) cannot be reached: ${describeError(cause)}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return error.message || code || error.name;
  }
  return String(error);
}

export class Database {
  readonly kind: 'pglite' | 'postgres';
  /** Where the data lives, safe for a log line or a status page. */
  readonly description: string;
  readonly orm: Orm;
  readonly #close: () => Promise<void>;
  #closed = false;

  private constructor(kind: 'pglite' | 'postgres', description: string, orm: Orm, close: () => Promise<void>) {
    this.kind = kind;
    this.description = description;
    this.orm = orm;
    this.#close = close;
  }

  /** Opens (creating if needed) the embedded database in `dataDir`/pglite and migrates it. */
  static async openEmbedded(dataDir: string): Promise<Database> {
    const directory = join(dataDir, 'pglite');
    const client = await PGlite.create({ dataDir: directory });
    try {
      const orm = drizzlePglite({ client, schema });
      await migratePglite(orm, { migrationsFolder: MIGRATIONS_FOLDER });
      return new Database('pglite', `PGlite in ${directory}`, orm as unknown as Orm, () => client.close());
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
  }

  /** Connects once to a PostgreSQL server and migrates it; throws DatabaseUnavailableError if unreachable. */
  static async connect(url: string, logger: Logger): Promise<Database> {
    const description = `DATABASE_URL ${redactUrl(url) ?? '(not a URL)'}`;
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'live-classroom',
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', (error) => logger.warn({ err: describeError(error) }, `database connection lost (${description})`));
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      await pool.end().catch(() => {});
      throw new DatabaseUnavailableError(description, error);
    }
    try {
      const orm = drizzlePostgres({ client: pool, schema });
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        await migratePostgres(orm, { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
      }
      client.release();
      return new Database('postgres', description, orm as unknown as Orm, () => pool.end());
    } catch (error) {
      client.release(true);
      await pool.end().catch(() => {});
      throw error;
    }
  }

  /**
   * Keeps trying to reach the PostgreSQL server until it answers or `signal` aborts,
   * logging each failure by setting name with a back-off up to 15 s.
   */
  static async connectWithRetry(url: string, logger: Logger, signal: AbortSignal, onFailure?: (reason: string) => void): Promise<Database> {
    let delayMs = 500;
    for (;;) {
      signal.throwIfAborted();
      try {
        return await Database.connect(url, logger);
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError)) throw error;
        onFailure?.(error.message);
        logger.error(`${error.message}; retrying in ${(delayMs / 1000).toFixed(1)} s`);
        await sleep(delayMs, undefined, { signal });
        delayMs = Math.min(delayMs * 2, 15_000);
      }
    }
  }

  /** Runs raw SQL and returns its rows (both drivers answer `{ rows }`). */
  async rows<T>(query: SQL): Promise<T[]> {
    const result = (await this.orm.execute(query)) as { rows: T[] };
    return result.rows;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the database answers a trivial query within `timeoutMs`. */
  async ping(timeoutMs = 2_000): Promise<void> {
    if (this.#closed) throw new DatabaseUnavailableError(this.description, new Error('closed'));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.orm.execute(sql`select 1`), timeout]);
    } catch (error) {
      throw new DatabaseUnavailableError(this.description, error);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#close();
  }
}
