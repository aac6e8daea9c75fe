// An experiment, not a fix: loaded into the SFU process with `node bench/fanout.ts --sfu-keyobjects`
// (`--import` on the SFU child), it makes node:crypto's createCipheriv/createDecipheriv/createHmac
// turn a Buffer key into a KeyObject, cached per Buffer. On Node 24 a Buffer key costs two thrown
// and caught exceptions inside prepareSecretKey per call, and werift makes one call per RTP packet
// per subscriber. This measures what the SFU would gain from werift holding KeyObjects, without
// touching server/media. Assumes key Buffers are never mutated after first use (true of werift's
// SRTP session keys).
import crypto, { type KeyObject } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

const cache = new WeakMap<Buffer, KeyObject>();

function keyObject<K>(key: K): K | KeyObject {
  if (!Buffer.isBuffer(key)) return key;
  let cached = cache.get(key);
  if (!cached) {
    cached = crypto.createSecretKey(key);
    cache.set(key, cached);
  }
  return cached;
}

type Factory = (algorithm: string, key: unknown, ...rest: unknown[]) => unknown;
const target = crypto as unknown as Record<'createCipheriv' | 'createDecipheriv' | 'createHmac', Factory>;
for (const name of ['createCipheriv', 'createDecipheriv', 'createHmac'] as const) {
  const original = target[name];
  target[name] = (algorithm, key, ...rest) => original(algorithm, keyObject(key), ...rest);
}
// ES modules that imported these names from 'crypto' (werift's bundle does) see the new functions.
syncBuiltinESMExports();
