// Fixes to ltijs, applied before it loads (lti/provider.ts imports this first).
//
// 1. Its HTTP client (got) has no timeout and retries twice with back-off: a platform whose JWKS or
//    token endpoint hangs would hang the launch. Ours gives up after 5 s and retries once.
// 2. Its id_token age check computes `now - iat`, which is negative for a token issued in the future
//    and NaN without `iat`, so neither is refused; `exp` is optional in its JWT library, and a
//    token without `nonce` matches any stored nonce in a MongoDB-style lookup. We refuse all four
//    before its own check runs.
// 3. Its routes are async functions inside express 4, which ignores the promises they return: a
//    throw in one (ltijs reads `req.body.state` of a request without a body) was an unhandled
//    rejection. ltijs' own express now passes a rejected promise to `next`, as express 5 does, so
//    the failure reaches our error handler and answers that one request.
// 4. Its OIDC nonce comes from Math.random(); ours from the operating system's random source.
// 5. It fetches the platform's key set (JWKS) for every launch. With `useKeySets` a provider's
//    launches take keys from a KeySets cache instead (lti/key-sets.ts); everything else ltijs checks
//    (audience, algorithm, signature, age, nonce, claims) is unchanged.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { KeySets } from './key-sets.ts';

const require = createRequire(import.meta.url);

/** Allowed clock difference between the LMS and us, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;
export const LTIJS_HTTP_TIMEOUT_MS = 5_000;

// 1. The HTTP client.
const httpPath = require.resolve('ltijs/dist/Utils/Http.js');
const got = createRequire(httpPath)('got') as { extend(options: Record<string, unknown>): unknown };
const client = got.extend({
  headers: { 'User-Agent': 'Live Classroom (ltijs)' },
  timeout: LTIJS_HTTP_TIMEOUT_MS,
  retry: { limit: 1 },
});
require.cache[httpPath] = { id: httpPath, filename: httpPath, loaded: true, exports: client } as unknown as NodeJS.Module;

// 2. The id_token's age, expiry and nonce.
interface Claims {
  iat?: unknown;
  exp?: unknown;
  nonce?: unknown;
}
interface LtijsPlatform {
  platformAuthConfig(): Promise<{ method: string; key: unknown }>;
}
type GetPlatform = (...args: unknown[]) => Promise<LtijsPlatform | LtijsPlatform[] | false | undefined>;
const Auth = require('ltijs/dist/Utils/Auth.js') as {
  validateMaxAge(this: unknown, token: Claims, maxAge: number): Promise<boolean>;
  validateNonce(this: unknown, token: Claims, database: object): Promise<boolean>;
  validateToken(this: unknown, token: string, devMode: boolean, parameters: unknown, getPlatform: GetPlatform, key: string, database: object): Promise<unknown>;
};
const validateMaxAge = Auth.validateMaxAge;
Auth.validateMaxAge = async function (this: unknown, token: Claims, maxAge: number) {
  if (typeof token.iat !== 'number') throw new Error('NO_IAT_CLAIM');
  if (typeof token.exp !== 'number') throw new Error('NO_EXP_CLAIM');
  if (typeof token.nonce !== 'string' || token.nonce === '') throw new Error('NO_NONCE_CLAIM');
  if (token.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) throw new Error('TOKEN_ISSUED_IN_THE_FUTURE');
  return validateMaxAge.call(this, token, maxAge);
};

// ...and a nonce is claimed in one atomic step where the store offers it (LtiStore.claimNonce):
// ltijs looks it up, then stores it, so two posts of one id_token at the same instant both passed.
const validateNonce = Auth.validateNonce;
Auth.validateNonce = async function (this: unknown, token: Claims, database: object) {
  const store = database as { claimNonce?: (nonce: string) => Promise<boolean> };
  if (typeof store.claimNonce !== 'function' || typeof token.nonce !== 'string') return validateNonce.call(this, token, database);
  if (!(await store.claimNonce(token.nonce))) throw new Error('NONCE_ALREADY_RECEIVED');
  return true;
};

// 3. Rejected promises of ltijs' routes go to `next`.
const ltijsRoot = require.resolve('ltijs/dist/Provider/Provider.js');
const Layer = createRequire(ltijsRoot)('express/lib/router/layer.js') as {
  prototype: { handle: (...args: unknown[]) => unknown; handle_request(req: unknown, res: unknown, next: (error?: unknown) => void): void };
};
Layer.prototype.handle_request = function handle(this: { handle: (...args: unknown[]) => unknown }, req: unknown, res: unknown, next: (error?: unknown) => void) {
  const fn = this.handle;
  if (fn.length > 3) return next();
  try {
    const result = fn(req, res, next);
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(undefined, (error: unknown) => next(error ?? new Error('an LTI route failed')));
    }
  } catch (error) {
    next(error);
  }
};

// 4. The nonce.
const Request = require('ltijs/dist/Utils/Request.js') as { ltiAdvantageLogin(request: unknown, platform: unknown, state: string): Promise<Record<string, string>> };
const ltiAdvantageLogin = Request.ltiAdvantageLogin;
Request.ltiAdvantageLogin = async function (this: unknown, request: unknown, platform: unknown, state: string) {
  const query = await ltiAdvantageLogin.call(this, request, platform, state);
  return { ...query, nonce: randomBytes(24).toString('base64url') };
};

// 5. Key sets from a cache.
const keySetsByDatabase = new WeakMap<object, KeySets>();

/** Launches validated with `database` (a provider's store) take the platform's keys from `keySets`. */
export function useKeySets(database: object, keySets: KeySets): void {
  keySetsByDatabase.set(database, keySets);
}

/** The `kid` in a compact JWT's header, if it has one. */
function headerKid(token: unknown): string | undefined {
  if (typeof token !== 'string') return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header?.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/** The platform as ltijs sees it, except that a JWK_SET configuration resolves to the one key the token names. */
function withCachedKey(platform: LtijsPlatform, keySets: KeySets, kid: string | undefined): LtijsPlatform {
  return new Proxy(platform, {
    get(target, property) {
      if (property === 'platformAuthConfig') {
        return async () => {
          const config = await target.platformAuthConfig();
          if (config?.method !== 'JWK_SET' || typeof config.key !== 'string') return config;
          if (kid === undefined) throw new Error('KID_NOT_FOUND');
          // ltijs verifies with whatever key RSA_KEY holds; jsonwebtoken takes a KeyObject.
          return { method: 'RSA_KEY', key: await keySets.publicKey(config.key, kid) };
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const validateToken = Auth.validateToken;
Auth.validateToken = async function (this: unknown, token, devMode, parameters, getPlatform, key, database) {
  const keySets = keySetsByDatabase.get(database);
  if (keySets === undefined) return validateToken.call(this, token, devMode, parameters, getPlatform, key, database);
  const kid = headerKid(token);
  const cached: GetPlatform = async (...args) => {
    const found = await getPlatform(...args);
    if (!found || Array.isArray(found)) return found;
    return withCachedKey(found, keySets, kid);
  };
  return validateToken.call(this, token, devMode, parameters, cached, key, database);
};
