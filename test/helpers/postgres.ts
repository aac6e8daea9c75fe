// A throw-away database on the PostgreSQL server named by DATABASE_URL, one per test suite.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the storage suite also runs on, or undefined (PGlite only). */
export const serverUrl: string | undefined = process.env.DATABASE_URL || undefined;

export interface TemporaryDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTemporaryDatabase(baseUrl: string): Promise<TemporaryDatabase> {
  const name = `lc_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
