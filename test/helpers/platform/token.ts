// The OAuth 2 token endpoint of LTI Advantage (client_credentials with a private_key_jwt client
// assertion, RFC 7523) and the bearer-token check every service route uses.
import { randomBytes } from 'node:crypto';
import express, { type RequestHandler, type Router } from 'express';
import { SUPPORTED_SCOPES } from './claims.ts';
import { HttpError, paramsOf } from './http.ts';
import { decodeJwt } from './keys.ts';
import type { Site } from './site.ts';
import type { TokenRequestRecord } from './types.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TOKEN_LIFETIME_S = 3600;

interface AccessToken {
  scopes: string[];
  expiresAt: number;
}

export class AccessTokens {
  #tokens = new Map<string, AccessToken>();
  #seenJti = new Set<string>();

  issue(scopes: string[]): string {
    const token = randomBytes(24).toString('hex');
    this.#tokens.set(token, { scopes, expiresAt: Date.now() + TOKEN_LIFETIME_S * 1000 });
    return token;
  }

  get(token: string): AccessToken | undefined {
    const found = this.#tokens.get(token);
    return found && found.expiresAt > Date.now() ? found : undefined;
  }

  /** Makes every issued token invalid, as if they had all expired. */
  expireAll(): void {
    this.#tokens.clear();
  }

  /** Records a jti; false when it was seen before. */
  firstUse(jti: string): boolean {
    if (this.#seenJti.has(jti)) return false;
    this.#seenJti.add(jti);
    return true;
  }
}

export function tokenRouter(site: Site, tokens: AccessTokens, log: TokenRequestRecord[]): Router {
  const router = express.Router();
  router.post(site.layout.token, async (req, res) => {
    const params = paramsOf(req);
    const record: TokenRequestRecord = { at: Date.now(), params, status: 0 };
    log.push(record);
    const fail = (status: number, error: string, description: string): never => {
      record.status = status;
      record.error = error;
      record.errorDescription = description;
      throw new HttpError(status, error, description, status === 401 ? { headers: { 'WWW-Authenticate': 'Bearer' } } : {});
    };
    if (params.grant_type !== 'client_credentials') fail(400, 'unsupported_grant_type', `grant_type must be client_credentials, got ${params.grant_type ?? '(none)'}`);
    if (params.client_assertion_type !== JWT_BEARER) fail(400, 'invalid_request', `client_assertion_type must be ${JWT_BEARER}`);
    const assertion = params.client_assertion;
    if (!assertion) return fail(400, 'invalid_request', 'client_assertion is required');
    const decoded = decodeJwt(assertion);
    record.assertionHeader = decoded.header;
    record.assertionClaims = decoded.claims;
    let toolKeys;
    try {
      toolKeys = site.toolKeys();
    } catch {
      return fail(401, 'invalid_client', 'no tool is registered with this platform');
    }
    let payload;
    try {
      ({ payload } = await toolKeys.verify(assertion, {
        issuer: site.clientId,
        subject: site.clientId,
        audience: [site.url(site.layout.token), site.issuer],
        requiredClaims: ['exp', 'jti'],
      }));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return fail(401, 'invalid_client', `client assertion refused: ${reason}`);
    }
    if (typeof payload.jti !== 'string' || !tokens.firstUse(payload.jti)) fail(401, 'invalid_client', 'client assertion jti was already used');
    const requested = (params.scope ?? '').split(' ').filter(Boolean);
    const allowed = site.tool?.scopes ?? SUPPORTED_SCOPES;
    const granted = requested.filter((scope) => SUPPORTED_SCOPES.includes(scope) && allowed.includes(scope));
    if (granted.length === 0) fail(400, 'invalid_scope', `none of the requested scopes can be granted: ${params.scope ?? '(none)'}`);
    record.status = 200;
    record.grantedScopes = granted;
    res.set('Cache-Control', 'no-store').json({
      access_token: tokens.issue(granted),
      token_type: 'Bearer',
      expires_in: TOKEN_LIFETIME_S,
      scope: granted.join(' '),
    });
  });
  return router;
}

/** Requires a valid bearer token holding one of `scopes`: 401 without a valid token, 403 without the scope. */
export function requireScope(tokens: AccessTokens, scopes: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const token = match?.[1] === undefined ? undefined : tokens.get(match[1]);
    if (!token) {
      throw new HttpError(401, 'invalid_token', match ? 'the access token is unknown or expired' : 'a Bearer access token is required', {
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    if (!scopes.some((scope) => token.scopes.includes(scope))) {
      throw new HttpError(403, 'insufficient_scope', `this route needs one of: ${scopes.join(' ')}`, {
        headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"` },
      });
    }
    next();
  };
}
