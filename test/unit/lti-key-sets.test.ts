// The LMS key-set cache (lti/key-sets.ts) on a clock and an LMS the test controls.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { cacheLifetimeMs, KEY_SET_TIMING, KeySets, KeySetUnreachableError, type Jwk, type KeySetFetch } from '../../lti/key-sets.ts';
import { createLogger } from '../../server/logger/index.ts';

const URL_A = 'https://lms.example.edu/jwks';

function rsaJwk(kid: string): Jwk {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg: 'RS256', use: 'sig' };
}

/** An LMS whose key set, Cache-Control and availability the test sets; counts fetches. */
function lms(keys: Jwk[], maxAgeMs?: number) {
  const state = { keys, maxAgeMs, down: false, fetches: 0, delayMs: 0 };
  const fetcher: KeySetFetch = async () => {
    state.fetches++;
    if (state.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
    if (state.down) throw new Error('Response code 503');
    return { keys: [...state.keys], maxAgeMs: state.maxAgeMs };
  };
  return { state, fetcher };
}

function clock(start = 1_000_000) {
  const c = { now: start, advance: (ms: number) => void (c.now += ms) };
  return c;
}

const silent = createLogger('silent');

describe('LMS key sets', () => {
  it('reads max-age (or s-maxage) from Cache-Control, and no-cache or no-store as 0', () => {
    assert.equal(cacheLifetimeMs('public, max-age=300'), 300_000);
    assert.equal(cacheLifetimeMs('s-maxage=60, max-age=10'), 60_000);
    assert.equal(cacheLifetimeMs('no-cache'), 0);
    assert.equal(cacheLifetimeMs('no-store, max-age=600'), 0);
    assert.equal(cacheLifetimeMs('private'), undefined);
    assert.equal(cacheLifetimeMs(null), undefined);
    assert.equal(cacheLifetimeMs('max-age=abc'), undefined);
  });

  it('fetches a set once and keeps it for its max-age, within the bounds', async () => {
    const key = rsaJwk('k1');
    for (const [maxAgeMs, kept] of [
      [300_000, 300_000],
      [undefined, KEY_SET_TIMING.defaultTtlMs],
      [0, KEY_SET_TIMING.minTtlMs],
      [30 * 24 * 3600_000, KEY_SET_TIMING.maxTtlMs],
    ] as const) {
      const { state, fetcher } = lms([key], maxAgeMs);
      const c = clock();
      const sets = new KeySets(silent, fetcher, () => c.now);
      for (let i = 0; i < 50; i++) assert.equal((await sets.key(URL_A, 'k1')).kid, 'k1');
      assert.equal(state.fetches, 1, `max-age ${maxAgeMs}: fetched per launch`);
      c.advance(kept - 1);
      await sets.key(URL_A, 'k1');
      assert.equal(state.fetches, 1, `max-age ${maxAgeMs}: fetched again before ${kept} ms`);
      c.advance(1);
      await sets.key(URL_A, 'k1');
      assert.equal(state.fetches, 2, `max-age ${maxAgeMs}: not fetched again after ${kept} ms`);
    }
  });

  it('fetches the set again for a key it does not hold (the LMS rotated its keys), at most once per interval', async () => {
    const { state, fetcher } = lms([rsaJwk('old')]);
    const c = clock();
    const sets = new KeySets(silent, fetcher, () => c.now);
    await sets.key(URL_A, 'old');
    c.advance(KEY_SET_TIMING.refetchIntervalMs);
    state.keys.push(rsaJwk('new'));
    assert.equal((await sets.key(URL_A, 'new')).kid, 'new');
    assert.equal(state.fetches, 2);
    // Forged kids: refused from the set in hand, however many arrive within the interval.
    for (let i = 0; i < 20; i++) await assert.rejects(sets.key(URL_A, `forged-${i}`), /KEY_NOT_FOUND/);
    assert.equal(state.fetches, 2);
    c.advance(KEY_SET_TIMING.refetchIntervalMs);
    await assert.rejects(sets.key(URL_A, 'forged-late'), /KEY_NOT_FOUND/);
    assert.equal(state.fetches, 3, 'after the interval an unknown kid may fetch once more');
  });

  it('keeps launching from the last good set while the LMS cannot be reached, for a while', async () => {
    const { state, fetcher } = lms([rsaJwk('k1')], 300_000);
    const c = clock();
    const sets = new KeySets(silent, fetcher, () => c.now);
    await sets.key(URL_A, 'k1');
    state.down = true;
    c.advance(300_000);
    assert.equal((await sets.key(URL_A, 'k1')).kid, 'k1', 'an expired set stands in while the LMS is down');
    const fetchesWhileDown = state.fetches;
    for (let i = 0; i < 10; i++) await sets.key(URL_A, 'k1');
    assert.equal(state.fetches, fetchesWhileDown, 'a set standing in is not fetched again at every launch');
    c.advance(KEY_SET_TIMING.staleForMs);
    await assert.rejects(sets.key(URL_A, 'k1'), KeySetUnreachableError);
    state.down = false;
    c.advance(1);
    assert.equal((await sets.key(URL_A, 'k1')).kid, 'k1');
  });

  it('refuses with KeySetUnreachableError when it never had the set', async () => {
    const { state, fetcher } = lms([rsaJwk('k1')]);
    state.down = true;
    const sets = new KeySets(silent, fetcher);
    await assert.rejects(sets.key(URL_A, 'k1'), (error: unknown) => error instanceof KeySetUnreachableError && /^KEYSET_UNREACHABLE/.test(error.message));
  });

  it('shares one fetch among launches that arrive together', async () => {
    const { state, fetcher } = lms([rsaJwk('k1')]);
    state.delayMs = 50;
    const sets = new KeySets(silent, fetcher);
    const keys = await Promise.all(Array.from({ length: 25 }, () => sets.key(URL_A, 'k1')));
    assert.equal(keys.length, 25);
    assert.equal(state.fetches, 1);
  });

  it('turns a key into a public key once, and refuses one it cannot use', async () => {
    const { fetcher } = lms([rsaJwk('k1'), { kid: 'broken', kty: 'oct', k: 'c2VjcmV0' }]);
    const sets = new KeySets(silent, fetcher);
    const first = await sets.publicKey(URL_A, 'k1');
    assert.equal(first.asymmetricKeyType, 'rsa');
    assert.equal(await sets.publicKey(URL_A, 'k1'), first);
    await assert.rejects(sets.publicKey(URL_A, 'broken'), /KEY_UNUSABLE/);
  });
});
