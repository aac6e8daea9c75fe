// Two fixes to ltijs, applied before it loads (lti/provider.ts imports this first).
//
// 1. Its HTTP client (got) has no timeout and retries twice with back-off: a platform whose JWKS or
//    token endpoint hangs would hang the launch. Ours gives up after 5 s and retries once.
// 2. Its id_token age check computes `now - iat`, which is negative for a token issued in the future
//    and NaN without `iat`, so neither is refused; `exp` is optional in its JWT library, and a
//    token without `nonce` matches any stored nonce in a MongoDB-style lookup. We refuse all four
//    before its own check runs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Allowed clock difference between the LMS and us, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;
export const LTIJS_HTTP_TIMEOUT_MS = 5_000;

const httpPath = require.resolve('ltijs/dist/Utils/Http.js');
const got = createRequire(httpPath)('got') as { extend(options: Record<string, unknown>): unknown };
const client = got.extend({
  headers: { 'User-Agent': 'Live Classroom (ltijs)' },
  timeout: LTIJS_HTTP_TIMEOUT_MS,
  retry: { limit: 1 },
});
require.cache[httpPath] = { id: httpPath, filename: httpPath, loaded: true, exports: client } as unknown as NodeJS.Module;

interface Claims {
  iat?: unknown;
  exp?: unknown;
  nonce?: unknown;
}
const Auth = require('ltijs/dist/Utils/Auth.js') as { validateMaxAge(this: unknown, token: Claims, maxAge: number): Promise<boolean> };
const validateMaxAge = Auth.validateMaxAge;
Auth.validateMaxAge = async function (this: unknown, token: Claims, maxAge: number) {
  if (typeof token.iat !== 'number') throw new Error('NO_IAT_CLAIM');
  if (typeof token.exp !== 'number') throw new Error('NO_EXP_CLAIM');
  if (typeof token.nonce !== 'string' || token.nonce === '') throw new Error('NO_NONCE_CLAIM');
  if (token.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) throw new Error('TOKEN_ISSUED_IN_THE_FUTURE');
  return validateMaxAge.call(this, token, maxAge);
};
