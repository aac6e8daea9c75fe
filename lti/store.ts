// The ltijs database plugin: ltijs' collections (platforms, keys, states, nonces, tokens) kept in
// the tool's own PostgreSQL/PGlite database, table `lti_store`, instead of MongoDB.
// ltijs calls Get/Insert/Replace/Modify/Delete with MongoDB-style equality queries on top-level
// fields; encrypted collections are stored as their lookup fields plus `iv` and `data`.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Orm } from '../server/db/index.ts';
import { ltiStore } from '../server/db/schema.ts';

type Document = Record<string, unknown>;
type Query = Record<string, unknown>;

/**
 * How long each short-lived collection is kept, in seconds: ltijs' MongoDB TTLs, except nonces.
 * ltijs forgets a nonce after 10 s, but an id_token stays valid until its `exp` (Canvas: an hour),
 * so a nonce is kept an hour: a captured launch cannot be replayed while its token still verifies.
 */
const TTL_SECONDS: Readonly<Record<string, number>> = {
  nonce: 3600,
  state: 600,
  accesstoken: 3600,
  idtoken: 24 * 3600,
  contexttoken: 24 * 3600,
  // Our own: a login waiting for its launch (lti/client-state.ts).
  lc_login: 600,
};
const SWEEP_EVERY_MS = 60_000;

/**
 * Collections read at every launch and written only when an administrator (or a token refresh)
 * changes them: their reads are kept in memory for CACHE_MS, and a write through this store forgets
 * them at once. Another node's change (a platform removed through the CLI on PostgreSQL) is seen
 * within CACHE_MS.
 */
const CACHED = new Set(['platform', 'platformStatus', 'lc_deployment', 'publickey', 'privatekey', 'accesstoken']);
export const STORE_CACHE_MS = 5_000;
/**
 * Collections written at every launch whose documents only the last launch of a user needs
 * (ltijs' idtoken and contexttoken): replaced in one statement, without the lock that serializes
 * an administrator's changes. Two launches of one user at the same instant may leave two rows; the
 * next launch replaces both.
 */
const REPLACED_QUICKLY = new Set(['idtoken', 'contexttoken']);

/**
 * ltijs keeps each launch's claims (idtoken, contexttoken) for later requests that carry its
 * `ltik`. Only deep linking uses those here (the placement form); a resource-link launch answers
 * the class page with a seat token and never comes back with its ltik. Launches run inside
 * `withoutLtikSession` skip those two writes.
 */
const ltikSessionSkipped = new AsyncLocalStorage<true>();
export function withoutLtikSession<T>(run: () => T): T {
  return ltikSessionSkipped.run(true, run);
}

export class LtiKeyMismatchError extends Error {
  constructor(collection: string, cause: unknown) {
    super(
      `Stored LTI data (${collection}) cannot be decrypted: LTI_KEY is not the key it was written with. ` +
        'Set LTI_KEY back to that key (or restore DATA_DIR/lti.key), or remove and register the platforms again.',
      { cause },
    );
    this.name = 'LtiKeyMismatchError';
  }
}

/**
 * Whether a value holds a NUL character anywhere (a key or a string). PostgreSQL's jsonb cannot hold
 * one, so a query carrying it matches nothing and a document carrying it is refused by name, rather
 * than failing in the database with an error that quotes the query.
 */
function carriesNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  for (const [key, inner] of Object.entries(value)) if (key.includes('\u0000') || carriesNul(inner)) return true;
  return false;
}

/** The error ltijs sees for a document it tries to store with a NUL in it (refusals.ts words it). */
export const NUL_IN_LTI_DATA = 'NUL_IN_LTI_DATA';

/** Drops undefined values, as MongoDB drivers do, so `{ a: undefined }` matches everything. */
function defined(query: Query | undefined): Query {
  return Object.fromEntries(Object.entries(query ?? {}).filter(([, value]) => value !== undefined));
}

export class LtiStore {
  readonly #db: Orm;
  #sweeper: NodeJS.Timeout | undefined;
  readonly #cache = new Map<string, { at: number; documents: Document[] }>();
  /** Writes per cached collection: a read that began before a write must not be kept after it. */
  readonly #writes = new Map<string, number>();

  constructor(db: Orm) {
    this.#db = db;
  }

  /** Called by ltijs' deploy(): starts the sweeper of expired records. */
  async setup(): Promise<boolean> {
    this.#sweeper ??= setInterval(() => void this.sweep().catch(() => {}), SWEEP_EVERY_MS).unref();
    return true;
  }

  async Close(): Promise<boolean> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    return true;
  }

  async Get(encryptionKey: string | false, collection: string, query?: Query): Promise<Document[] | false> {
    if (carriesNul(query)) return false;
    if (!CACHED.has(collection)) return this.#read(encryptionKey, collection, query);
    // Decrypted documents are kept under the key they were read with: another key reads afresh (and fails as it should).
    const keyId = encryptionKey ? createHash('sha256').update(encryptionKey).digest('base64url').slice(0, 16) : '';
    const key = `${collection}\u0000${keyId}\u0000${JSON.stringify(defined(query))}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined && Date.now() - hit.at < STORE_CACHE_MS) return structuredClone(hit.documents);
    const writesBefore = this.#writes.get(collection) ?? 0;
    const documents = await this.#read(encryptionKey, collection, query);
    // Only what exists is kept (a stranger's logins with made-up issuers would otherwise crowd the
    // cache), and only if no write to the collection happened while it was read.
    if (documents !== false && (this.#writes.get(collection) ?? 0) === writesBefore) {
      this.#cache.delete(key);
      this.#cache.set(key, { at: Date.now(), documents: structuredClone(documents) });
      // The oldest go first past 1,000 entries.
      for (const oldest of this.#cache.keys()) {
        if (this.#cache.size <= 1_000) break;
        this.#cache.delete(oldest);
      }
    }
    return documents;
  }

  /** Forgets cached reads of a collection (it was just written). */
  #written(collection: string): void {
    if (!CACHED.has(collection)) return;
    this.#writes.set(collection, (this.#writes.get(collection) ?? 0) + 1);
    for (const key of this.#cache.keys()) if (key.startsWith(`${collection}\u0000`)) this.#cache.delete(key);
  }

  async #read(encryptionKey: string | false, collection: string, query?: Query): Promise<Document[] | false> {
    const rows = await this.#db
      .select({ fields: ltiStore.fields, createdAt: ltiStore.createdAt })
      .from(ltiStore)
      .where(this.#matching(collection, query))
      .orderBy(ltiStore.id);
    if (rows.length === 0) return false;
    return rows.map(({ fields, createdAt }) => {
      if (encryptionKey) {
        return { ...this.#decrypt(collection, fields, encryptionKey), createdAt: createdAt.getTime() };
      }
      return collection in TTL_SECONDS ? { ...fields, createdAt } : { ...fields };
    });
  }

  async Insert(encryptionKey: string | false, collection: string, item: Document, index?: Query): Promise<boolean> {
    if (!collection || !item || (encryptionKey && !index)) throw new Error('MISSING_PARAMS');
    if (carriesNul(item) || carriesNul(index)) throw new Error(NUL_IN_LTI_DATA);
    this.#written(collection);
    await this.#db.insert(ltiStore).values(this.#row(encryptionKey, collection, item, index));
    this.#written(collection);
    return true;
  }

  /** Replaces the documents matching `query` with one, or inserts it. */
  async Replace(encryptionKey: string | false, collection: string, query: Query, item: Document, index?: Query): Promise<boolean> {
    if (!collection || !item || (encryptionKey && !index)) throw new Error('MISSING_PARAMS');
    if (carriesNul(query) || carriesNul(item) || carriesNul(index)) throw new Error(NUL_IN_LTI_DATA);
    if (REPLACED_QUICKLY.has(collection) && ltikSessionSkipped.getStore() === true) return true;
    const row = this.#row(encryptionKey, collection, item, index);
    this.#written(collection);
    if (REPLACED_QUICKLY.has(collection)) {
      await this.#db.execute(sql`
        with replaced as (delete from ${ltiStore} where ${this.#matching(collection, query, false)})
        insert into ${ltiStore} (collection, fields, expires_at) values (${row.collection}, ${JSON.stringify(row.fields)}::jsonb, ${row.expiresAt})`);
      return true;
    }
    await this.#db.transaction(async (tx) => {
      // Serialize upserts of the same key across connections and nodes.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`${collection}:${JSON.stringify(defined(query))}`}))`);
      await tx.delete(ltiStore).where(this.#matching(collection, query, false));
      await tx.insert(ltiStore).values(row);
    });
    this.#written(collection);
    return true;
  }

  /** Sets fields on the first document matching `query` (inside the encrypted data when a key is given). */
  async Modify(encryptionKey: string | false, collection: string, query: Query, modification: Document): Promise<boolean> {
    if (!collection || !query || !modification) throw new Error('MISSING_PARAMS');
    if (carriesNul(query)) return true;
    if (carriesNul(modification)) throw new Error(NUL_IN_LTI_DATA);
    const [row] = await this.#db
      .select({ id: ltiStore.id, fields: ltiStore.fields })
      .from(ltiStore)
      .where(this.#matching(collection, query))
      .orderBy(ltiStore.id)
      .limit(1);
    if (row === undefined) return true;
    let fields: Document;
    if (encryptionKey) {
      const document = { ...this.#decrypt(collection, row.fields, encryptionKey), ...modification };
      fields = { ...row.fields, ...this.Encrypt(JSON.stringify(document), encryptionKey) };
    } else {
      fields = { ...row.fields, ...modification };
    }
    this.#written(collection);
    await this.#db.update(ltiStore).set({ fields }).where(eq(ltiStore.id, row.id));
    this.#written(collection);
    return true;
  }

  async Delete(collection: string, query: Query): Promise<boolean> {
    if (!collection || !query) throw new Error('MISSING_PARAMS');
    if (carriesNul(query)) return true;
    this.#written(collection);
    await this.#db.delete(ltiStore).where(this.#matching(collection, query, false));
    this.#written(collection);
    return true;
  }

  async #rowsOf<T>(query: SQL): Promise<T[]> {
    return ((await this.#db.execute(query)) as unknown as { rows: T[] }).rows;
  }

  /**
   * Removes the documents matching `query` and answers the first of them (a one-time record used
   * up), with `putBack` to store it again as it was, expiry included.
   */
  async take(collection: string, query: Query): Promise<{ fields: Document; putBack: () => Promise<void> } | undefined> {
    if (carriesNul(query)) return undefined;
    const rows = await this.#db
      .delete(ltiStore)
      .where(this.#matching(collection, query))
      .returning({ id: ltiStore.id, fields: ltiStore.fields, createdAt: ltiStore.createdAt, expiresAt: ltiStore.expiresAt });
    rows.sort((a, b) => a.id - b.id);
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      fields: row.fields,
      putBack: async () => {
        await this.#db.insert(ltiStore).values({ collection, fields: row.fields, createdAt: row.createdAt, expiresAt: row.expiresAt });
      },
    };
  }

  /**
   * Stores a nonce unless it is already stored (or was, within its lifetime): true the first time,
   * false for a replay. One statement, atomic on both databases (a unique index on the nonce).
   */
  async claimNonce(nonce: string): Promise<boolean> {
    if (carriesNul(nonce)) return false;
    const row = this.#row(false, 'nonce', { nonce }, undefined);
    const claimed = await this.#rowsOf<{ id: number }>(sql`
      insert into ${ltiStore} (collection, fields, expires_at) values (${row.collection}, ${JSON.stringify(row.fields)}::jsonb, ${row.expiresAt})
      on conflict ((fields ->> 'nonce')) where collection = 'nonce' do nothing returning id`);
    return claimed.length > 0;
  }

  /** ltijs' encryption (AES-256-CBC, key = SHA-256 of the secret), so its own helpers stay compatible. */
  Encrypt(data: string, secret: string): { iv: string; data: string } {
    const key = createHash('sha256').update(secret).digest();
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-256-cbc', key, iv);
    return { iv: iv.toString('hex'), data: Buffer.concat([cipher.update(data), cipher.final()]).toString('hex') };
  }

  Decrypt(data: string, iv: string, secret: string): string {
    const key = createHash('sha256').update(secret).digest();
    const decipher = createDecipheriv('aes-256-cbc', key, Buffer.from(iv, 'hex'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'hex')), decipher.final()]).toString();
  }

  /** Deletes expired records; returns how many. */
  async sweep(): Promise<number> {
    const deleted = await this.#db.delete(ltiStore).where(lte(ltiStore.expiresAt, sql`now()`)).returning({ id: ltiStore.id });
    return deleted.length;
  }

  #row(encryptionKey: string | false, collection: string, item: Document, index: Query | undefined) {
    const fields = encryptionKey ? { ...defined(index), ...this.Encrypt(JSON.stringify(item), encryptionKey) } : item;
    const ttl = TTL_SECONDS[collection];
    return {
      collection,
      fields: JSON.parse(JSON.stringify(fields)) as Document,
      expiresAt: ttl === undefined ? null : new Date(Date.now() + ttl * 1000),
    };
  }

  #decrypt(collection: string, fields: Document, encryptionKey: string): Document {
    try {
      return JSON.parse(this.Decrypt(String(fields.data), String(fields.iv), encryptionKey)) as Document;
    } catch (error) {
      throw new LtiKeyMismatchError(collection, error);
    }
  }

  #matching(collection: string, query: Query | undefined, liveOnly = true): SQL | undefined {
    const conditions = [eq(ltiStore.collection, collection)];
    const wanted = defined(query);
    if (Object.keys(wanted).length > 0) conditions.push(sql`${ltiStore.fields} @> ${JSON.stringify(wanted)}::jsonb`);
    if (liveOnly) conditions.push(or(isNull(ltiStore.expiresAt), sql`${ltiStore.expiresAt} > now()`) as SQL);
    return and(...conditions);
  }
}
