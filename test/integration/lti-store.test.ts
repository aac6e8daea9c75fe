// The ltijs database plugin on PGlite and, when DATABASE_URL is set, on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { LtiKeyMismatchError, LtiStore, NUL_IN_LTI_DATA, withoutLtikSession } from '../../lti/store.ts';
import type { Database } from '../../server/db/index.ts';
import { storageBackends } from '../helpers/backends.ts';

const KEY = 'k'.repeat(40);

for (const backend of storageBackends()) {
  describe(`ltijs store on ${backend.name}`, () => {
    let db: Database;
    let store: LtiStore;
    before(async () => {
      db = await backend.open();
      store = new LtiStore(db.orm);
      await store.setup();
    });
    after(async () => {
      await store?.Close();
      await db?.close();
      await backend.cleanup();
    });

    it('finds documents by their fields and answers false when none match', async () => {
      const platform = { platformUrl: 'https://moodle.example.edu', clientId: 'abc', platformName: 'Moodle', kid: 'k1' };
      await store.Insert(false, 'platform', platform);
      assert.deepEqual(await store.Get(false, 'platform', { platformUrl: 'https://moodle.example.edu', clientId: 'abc' }), [platform]);
      assert.deepEqual(await store.Get(false, 'platform', { platformUrl: 'https://moodle.example.edu', clientId: undefined }), [platform]);
      assert.equal(await store.Get(false, 'platform', { platformUrl: 'https://moodle.example.edu', clientId: 'other' }), false);
      assert.equal(await store.Get(false, 'nothing-here'), false);
    });

    it('replaces the matching document instead of adding a second', async () => {
      await store.Replace(false, 'idtoken', { iss: 'i', user: 'u1' }, { iss: 'i', user: 'u1', userInfo: { name: 'A' } });
      await store.Replace(false, 'idtoken', { iss: 'i', user: 'u1' }, { iss: 'i', user: 'u1', userInfo: { name: 'B' } });
      const found = (await store.Get(false, 'idtoken', { iss: 'i', user: 'u1' })) as Array<Record<string, unknown>>;
      assert.equal(found.length, 1);
      assert.deepEqual(found[0]!.userInfo, { name: 'B' });
      assert.ok(found[0]!.createdAt instanceof Date, 'short-lived documents carry createdAt, as with MongoDB');
    });

    it('keeps encrypted documents unreadable without the key, and refuses a wrong key by name', async () => {
      const secret = { key: '-----BEGIN PRIVATE KEY-----\nMIIE-very-secret\n-----END PRIVATE KEY-----' };
      await store.Replace(KEY, 'privatekey', { kid: 'kid-1' }, secret, { kid: 'kid-1', platformUrl: 'https://p', clientId: 'c' });
      const [decrypted] = (await store.Get(KEY, 'privatekey', { kid: 'kid-1' })) as Array<Record<string, unknown>>;
      assert.equal(decrypted!.key, secret.key);
      assert.equal(typeof decrypted!.createdAt, 'number');
      const [raw] = (await store.Get(false, 'privatekey', { kid: 'kid-1' })) as Array<Record<string, unknown>>;
      assert.deepEqual(Object.keys(raw!).sort(), ['clientId', 'data', 'iv', 'kid', 'platformUrl']);
      const stored = await db.rows<{ fields: string }>(sql`select fields::text as fields from lti_store where collection = 'privatekey'`);
      assert.ok(!stored.some((r) => r.fields.includes('very-secret')), 'the private key is stored in clear');
      await assert.rejects(store.Get('another key, not the one it was written with', 'privatekey', { kid: 'kid-1' }), LtiKeyMismatchError);
    });

    it('modifies plain fields, and fields inside encrypted data', async () => {
      await store.Insert(false, 'platformStatus', { id: 'p1', active: false });
      await store.Modify(false, 'platformStatus', { id: 'p1' }, { active: true });
      assert.deepEqual(await store.Get(false, 'platformStatus', { id: 'p1' }), [{ id: 'p1', active: true }]);
      await store.Replace(KEY, 'accesstoken', { platformUrl: 'https://p', clientId: 'c', scopes: 's' }, { token: 't1' }, { platformUrl: 'https://p', clientId: 'c', scopes: 's' });
      await store.Modify(KEY, 'accesstoken', { platformUrl: 'https://p' }, { token: 't2' });
      const [token] = (await store.Get(KEY, 'accesstoken', { platformUrl: 'https://p', clientId: 'c', scopes: 's' })) as Array<Record<string, unknown>>;
      assert.equal(token!.token, 't2');
    });

    it('deletes every matching document', async () => {
      await store.Insert(false, 'publickey', { kid: 'd1', platformUrl: 'https://gone' });
      await store.Insert(false, 'publickey', { kid: 'd2', platformUrl: 'https://gone' });
      await store.Delete('publickey', { platformUrl: 'https://gone' });
      assert.equal(await store.Get(false, 'publickey', { platformUrl: 'https://gone' }), false);
    });

    it('remembers a nonce for an hour, longer than an id_token that carries it stays valid', async () => {
      await store.Insert(false, 'nonce', { nonce: 'n-remembered' });
      const [row] = await db.rows<{ seconds: number }>(
        sql`select extract(epoch from expires_at - created_at)::int as seconds from lti_store where fields @> '{"nonce":"n-remembered"}'`,
      );
      assert.ok(row!.seconds >= 3600, `a nonce is forgotten after ${row!.seconds} s`);
    });

    it('claims a nonce once, however many posts of it arrive at the same instant', async () => {
      const claims = await Promise.all(Array.from({ length: 8 }, () => store.claimNonce('n-raced')));
      assert.equal(claims.filter(Boolean).length, 1, `${claims.filter(Boolean).length} posts of one nonce were accepted`);
      assert.equal(await store.claimNonce('n-raced'), false);
      assert.equal(await store.claimNonce('n-other'), true);
    });

    it('takes a one-time record: the first taker gets it, nobody after', async () => {
      await store.Insert(false, 'lc_login', { state: 'st-1', iss: 'https://p' });
      const [first, second] = await Promise.all([store.take('lc_login', { state: 'st-1' }), store.take('lc_login', { state: 'st-1' })]);
      assert.equal([first, second].filter((r) => r !== undefined).length, 1);
      const taken = (first ?? second)!;
      assert.equal(taken.fields.iss, 'https://p');
      assert.equal(await store.Get(false, 'lc_login', { state: 'st-1' }), false);
      const [before] = await db.rows<{ expires_at: Date }>(sql`select now() as expires_at`);
      await taken.putBack();
      const [row] = await db.rows<{ expires_at: Date; created_at: Date }>(sql`select expires_at, created_at from lti_store where collection = 'lc_login' and fields @> '{"state":"st-1"}'`);
      assert.ok(row && new Date(row.created_at) < new Date(before!.expires_at), 'put back as it was, not as a new record');
    });

    it('serves platform reads from memory, and forgets them when this store writes', async () => {
      await store.Insert(false, 'platformStatus', { id: 'cached-1', active: true });
      assert.deepEqual(await store.Get(false, 'platformStatus', { id: 'cached-1' }), [{ id: 'cached-1', active: true }]);
      // Written behind the store's back (as another node would): the cached read stands for a moment...
      await db.orm.execute(sql`update lti_store set fields = '{"id":"cached-1","active":false}' where collection = 'platformStatus' and fields @> '{"id":"cached-1"}'`);
      assert.deepEqual(await store.Get(false, 'platformStatus', { id: 'cached-1' }), [{ id: 'cached-1', active: true }]);
      // ...and a write through the store is seen at once.
      await store.Replace(false, 'platformStatus', { id: 'cached-1' }, { id: 'cached-1', active: false });
      assert.deepEqual(await store.Get(false, 'platformStatus', { id: 'cached-1' }), [{ id: 'cached-1', active: false }]);
      // A caller changing what it got does not change what the next one gets.
      const [mine] = (await store.Get(false, 'platformStatus', { id: 'cached-1' })) as Array<Record<string, unknown>>;
      mine!.active = 'changed';
      assert.deepEqual(await store.Get(false, 'platformStatus', { id: 'cached-1' }), [{ id: 'cached-1', active: false }]);
    });

    it('keeps no ltik session for a launch that will not use one', async () => {
      await withoutLtikSession(() => store.Replace(false, 'idtoken', { iss: 'i', user: 'no-session' }, { iss: 'i', user: 'no-session' }));
      assert.equal(await store.Get(false, 'idtoken', { iss: 'i', user: 'no-session' }), false);
      await store.Replace(false, 'idtoken', { iss: 'i', user: 'session' }, { iss: 'i', user: 'session' });
      assert.equal(((await store.Get(false, 'idtoken', { iss: 'i', user: 'session' })) || []).length, 1);
    });

    it('matches nothing for a NUL in a query and refuses to store one, by name', async () => {
      assert.equal(await store.Get(false, 'platform', { platformUrl: 'https://a\u0000' }), false);
      await assert.rejects(store.Insert(false, 'nonce', { nonce: 'bad\u0000' }), new RegExp(NUL_IN_LTI_DATA));
      await assert.rejects(store.Replace(false, 'idtoken', { user: 'x' }, { user: 'x', name: '\u0000' }), new RegExp(NUL_IN_LTI_DATA));
      assert.equal(await store.claimNonce('bad\u0000'), false);
    });

    it('hides expired states and nonces at once and sweeps them away', async () => {
      await store.Insert(false, 'nonce', { nonce: 'n-expired' });
      await store.Insert(false, 'state', { state: 's-live', query: {} });
      assert.equal((await store.Get(false, 'nonce', { nonce: 'n-expired' }) || []).length, 1);
      await db.orm.execute(sql`update lti_store set expires_at = now() - interval '1 second' where fields @> '{"nonce":"n-expired"}'`);
      assert.equal(await store.Get(false, 'nonce', { nonce: 'n-expired' }), false);
      assert.ok((await store.sweep()) >= 1);
      const left = await db.rows<{ n: number }>(sql`select count(*)::int as n from lti_store where fields @> '{"nonce":"n-expired"}'`);
      assert.equal(left[0]!.n, 0);
      assert.equal((await store.Get(false, 'state', { state: 's-live' }) || []).length, 1, 'a live state is kept');
      const [platformRow] = await db.rows<{ expires_at: Date | null }>(sql`select expires_at from lti_store where collection = 'platform' limit 1`);
      assert.equal(platformRow!.expires_at, null, 'platforms never expire');
    });
  });
}
