// The LMSs' signing keys (their JWKS), kept between launches. ltijs fetches a platform's key set for
// every launch: a class of 2,000 opening at nine would ask the LMS 2,000 times, and a key-set
// endpoint that blips would refuse every launch. Here a key set is fetched once and kept:
//
// - for as long as the LMS's Cache-Control says (max-age), at least MIN_TTL and at most MAX_TTL;
//   DEFAULT_TTL when it says nothing (or no-cache/no-store: we still keep it MIN_TTL);
// - a token signed with a key the set does not hold (the LMS rotated its keys) fetches the set again
//   at once, but at most once per REFETCH_INTERVAL per set, so forged kids cannot make us hammer it;
// - when the LMS cannot be reached, the last good set is used for up to STALE_FOR after it expired;
// - launches arriving together share one fetch.
import { createPublicKey, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import type { Logger } from '../server/logger/index.ts';
import { fetchOutbound, type OutboundPolicy } from './outbound.ts';

export const KEY_SET_TIMING = {
  minTtlMs: 60_000,
  defaultTtlMs: 5 * 60_000,
  maxTtlMs: 24 * 3600_000,
  refetchIntervalMs: 10_000,
  staleForMs: 24 * 3600_000,
} as const;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_BYTES = 512 * 1024;

/** A JSON Web Key as a key set holds it (RFC 7517); only `kid` is read here. */
export type Jwk = Record<string, unknown> & { kid?: string };

/** The key set could not be fetched (and no earlier one is usable): ltijs' refusal pages say "the LMS could not be reached". */
export class KeySetUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`KEYSET_UNREACHABLE: ${url}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'KeySetUnreachableError';
  }
}

interface Entry {
  keys: Jwk[];
  expiresAt: number;
  /** Until when the set may stand in for one the LMS cannot give. */
  usableUntil: number;
}

export interface KeySetFetch {
  (url: string): Promise<{ keys: Jwk[]; maxAgeMs: number | undefined }>;
}

/** Seconds of `max-age` (or `s-maxage`), 0 for no-cache/no-store, undefined when the header says neither. */
export function cacheLifetimeMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const directives = header.toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  for (const name of ['s-maxage', 'max-age']) {
    const found = directives.find((d) => d.startsWith(`${name}=`));
    const seconds = found === undefined ? Number.NaN : Number(found.slice(name.length + 1).replace(/"/g, ''));
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  }
  return undefined;
}

/**
 * Where key sets are fetched from: the platforms an administrator registered or activated, on the
 * campus network as often as not, so loopback and private addresses are allowed; link-local ones
 * (a cloud's metadata service), multicast and unspecified ones never are, at every redirect.
 */
const KEY_SET_POLICY: OutboundPolicy = { allowPrivate: () => true, neverLinkLocal: true, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_BYTES, maxRedirects: 3 };

/** Fetches a key set over HTTP(S): a 2xx JSON document with a `keys` array, at most 512 KiB. */
export const fetchKeySet: KeySetFetch = async (url) => {
  const response = await fetchOutbound(url, { headers: { accept: 'application/json', 'user-agent': 'Live Classroom' } }, KEY_SET_POLICY);
  if (response.status < 200 || response.status > 299) throw new Error(`Response code ${response.status}`);
  const document = JSON.parse(response.text) as { keys?: unknown };
  if (!Array.isArray(document?.keys)) throw new Error('KEYSET_NOT_FOUND');
  const keys = document.keys.filter((k): k is Jwk => k !== null && typeof k === 'object' && !Array.isArray(k));
  const cacheControl = response.headers['cache-control'];
  return { keys, maxAgeMs: cacheLifetimeMs(typeof cacheControl === 'string' ? cacheControl : null) };
};

export class KeySets {
  readonly #fetch: KeySetFetch;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Entry>>();
  /** When each set was last fetched because of an unknown kid. */
  readonly #lastRefetch = new Map<string, number>();
  /** Each key turned into a public key once, not at every launch. */
  readonly #publicKeys = new WeakMap<Jwk, KeyObject>();
  /** Fetches made, for the tests and the benchmark. */
  fetches = 0;

  constructor(logger: Logger, fetcher: KeySetFetch = fetchKeySet, now: () => number = Date.now) {
    this.#logger = logger;
    this.#fetch = fetcher;
    this.#now = now;
  }

  /** The key `kid` of the set at `url`; throws Error('KEY_NOT_FOUND') or KeySetUnreachableError. */
  async key(url: string, kid: string): Promise<Jwk> {
    const now = this.#now();
    let entry = this.#entries.get(url);
    const fresh = entry === undefined || entry.expiresAt <= now;
    if (entry === undefined || entry.expiresAt <= now) entry = await this.#refresh(url, entry);
    let found = entry.keys.find((k) => k.kid === kid);
    if (found === undefined && !fresh && now - (this.#lastRefetch.get(url) ?? Number.NEGATIVE_INFINITY) >= KEY_SET_TIMING.refetchIntervalMs) {
      // A key we have not seen: the LMS may have rotated its keys since we fetched the set.
      this.#lastRefetch.set(url, now);
      entry = await this.#refresh(url, entry);
      found = entry.keys.find((k) => k.kid === kid);
    }
    if (found === undefined) throw new Error('KEY_NOT_FOUND');
    return found;
  }

  /** The key `kid` of the set at `url`, ready to verify a signature; throws as `key` does, or Error('KEY_UNUSABLE'). */
  async publicKey(url: string, kid: string): Promise<KeyObject> {
    const jwk = await this.key(url, kid);
    let key = this.#publicKeys.get(jwk);
    if (key === undefined) {
      try {
        key = createPublicKey({ key: jwk, format: 'jwk' } as JsonWebKeyInput);
      } catch {
        throw new Error('KEY_UNUSABLE');
      }
      this.#publicKeys.set(jwk, key);
    }
    return key;
  }

  /** Fetches the set (once, however many launches ask meanwhile); falls back to a stale one the LMS could not refresh. */
  #refresh(url: string, previous: Entry | undefined): Promise<Entry> {
    let pending = this.#inFlight.get(url);
    if (pending === undefined) {
      pending = this.#load(url, previous).finally(() => this.#inFlight.delete(url));
      this.#inFlight.set(url, pending);
    }
    return pending;
  }

  async #load(url: string, previous: Entry | undefined): Promise<Entry> {
    this.fetches++;
    try {
      const { keys, maxAgeMs } = await this.#fetch(url);
      const expiresAt = this.#now() + Math.min(KEY_SET_TIMING.maxTtlMs, Math.max(KEY_SET_TIMING.minTtlMs, maxAgeMs ?? KEY_SET_TIMING.defaultTtlMs));
      const entry = { keys, expiresAt, usableUntil: expiresAt + KEY_SET_TIMING.staleForMs };
      this.#entries.set(url, entry);
      return entry;
    } catch (error) {
      const now = this.#now();
      if (previous !== undefined && now < previous.usableUntil) {
        this.#logger.warn({ url, err: error }, 'the LMS key set could not be fetched; using the one fetched earlier');
        // Try again after the shortest lifetime, not at every launch.
        const kept = { ...previous, expiresAt: Math.min(now + KEY_SET_TIMING.minTtlMs, previous.usableUntil) };
        this.#entries.set(url, kept);
        return kept;
      }
      throw new KeySetUnreachableError(url, error);
    }
  }
}
