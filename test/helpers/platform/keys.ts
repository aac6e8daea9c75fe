// The platform's signing keys and published JWKS, and the tool's keys as the platform sees them
// (fetched from the tool's jwks URL).
import { randomBytes } from 'node:crypto';
import {
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyResult,
} from 'jose';
import type { Claims, SigningOptions } from './types.ts';

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(10).toString('hex');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export class PlatformKeys {
  #current: KeyPair;
  #published: KeyPair[];
  /** Never published: signs tokens the JWKS cannot verify. */
  #other: KeyPair;

  private constructor(current: KeyPair, other: KeyPair) {
    this.#current = current;
    this.#published = [current];
    this.#other = other;
  }

  static async create(): Promise<PlatformKeys> {
    const [current, other] = await Promise.all([newKeyPair(), newKeyPair()]);
    return new PlatformKeys(current, other);
  }

  get kid(): string {
    return this.#current.kid;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.#published.map((pair) => ({ ...pair.publicJwk })) };
  }

  /** A new signing key; the old one stays published unless `keepOld` is false. */
  async rotate(keepOld = true): Promise<string> {
    const next = await newKeyPair();
    this.#published = keepOld ? [next, ...this.#published] : [next];
    this.#current = next;
    return next.kid;
  }

  async sign(claims: Claims, signing: SigningOptions = {}): Promise<string> {
    const kid = signing.kid ?? this.#current.kid;
    if (signing.alg === 'none') {
      const head = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid })).toString('base64url');
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return `${head}.${body}.`;
    }
    const key = signing.key === 'other' ? this.#other.privateKey : this.#current.privateKey;
    return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(key);
  }
}

const TOOL_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256'];

/** The tool's public keys, fetched from its JWKS URL (refetched when an unknown kid shows up). */
export class ToolKeys {
  readonly url: string;
  #set: ReturnType<typeof createRemoteJWKSet>;

  constructor(url: string) {
    this.url = url;
    this.#set = createRemoteJWKSet(new URL(url), { cooldownDuration: 0, cacheMaxAge: 60_000, timeoutDuration: 3_000 });
  }

  verify(jwt: string, options: { issuer?: string; audience?: string | string[]; subject?: string; requiredClaims?: string[] }): Promise<JWTVerifyResult> {
    return jwtVerify(jwt, this.#set, { ...options, algorithms: TOOL_ALGORITHMS });
  }
}

/** Decodes a JWT without verifying it (for records and error messages). */
export function decodeJwt(jwt: string): { header?: Record<string, unknown>; claims?: Claims } {
  const [head, body] = jwt.split('.');
  const parse = (part: string | undefined) => {
    if (!part) return undefined;
    try {
      const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  return { header: parse(head), claims: parse(body) };
}
