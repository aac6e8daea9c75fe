// Launches framed in the LMS page when the browser blocks third-party cookies (Safari's default).
//
// ltijs binds the OIDC `state` to a cookie it sets at login and reads back at launch. In a framed
// launch that cookie is third-party, so a browser blocking those refuses it and the launch fails.
// We wrap ltijs' two routes and keep its validation:
//
// - With `lti_storage_target` (the platform offers LTI client-side postMessage storage), the login
//   answers a page that stores a one-time secret in the platform's storage (`lti.put_data`, key
//   `state_<state>`) before going on to the platform. The launch answers a page that reads it back
//   (`lti.get_data`) and posts it with the id_token; the server compares it with the hash it kept,
//   and only then hands ltijs the state it would have read from the cookie. A forged launch cannot
//   know the secret: only a page of our origin in the same browser can read it from the platform.
// - Without it, a framed login first checks that the browser keeps our cookies; if it does not,
//   the frame says so and offers to open the launch in a new window, where the cookie is first-party.
//   A launch that still arrives without its cookie gets the same offer.
//
// Each login is remembered (collection `lc_login`, ten minutes) so the launch can find its storage
// target and the parameters to start over in a new window, and with the nonce the tool sent in the
// authentication request: OpenID Connect Core 3.2.2.11 requires the id_token's nonce to equal it.
// ltijs only refuses a nonce it has seen before, so a captured, never-used id_token of one login
// would otherwise complete another browser's login. Both paths (cookie and platform storage) check it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../server/logger/index.ts';
import { launchContinues } from './launch-timing.ts';
import { clientStateLaunchPage, clientStateLoginPage, cookieCheckPage, newWindowPage, problemPage } from './pages.ts';
import type { LtiStore } from './store.ts';

export const LOGIN_COLLECTION = 'lc_login';
const PROBE_COOKIE = 'lc_cookie_check';
/** The login parameters that start a launch over, in a new window. */
const LOGIN_PARAMS = ['iss', 'login_hint', 'lti_message_hint', 'target_link_uri', 'client_id', 'lti_deployment_id'] as const;
const STORAGE_TARGET = /^[\w.-]{1,64}$/;

interface LoginRecord {
  state: string;
  iss: string;
  /** The login parameters, to start over in a new window. */
  params: Record<string, string>;
  storageTarget?: string;
  /** The nonce sent in the authentication request; the id_token must carry the same. */
  nonce?: string;
  /** Origin of the platform's OIDC endpoint: where storage messages go and come from. */
  platformOrigin?: string;
  secretHash?: string;
}

export interface CookiePolicy {
  secure: boolean;
  sameSite: 'None' | 'Lax';
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

function field(source: unknown, name: string): string | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** The claims of a compact JWT, unverified (ltijs verifies the signature afterwards); undefined if unreadable. */
export function jwtPayload(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hasCookie(req: Request, name: string): boolean {
  const header = req.headers.cookie;
  if (!header) return false;
  return header.split(';').some((part) => part.trim().startsWith(`${name}=`));
}

export class ClientState {
  readonly #store: LtiStore;
  readonly #cookies: CookiePolicy;
  readonly #logger: Logger;
  readonly #cookieSecret: string;

  /** `cookieSecret` is the key ltijs signs its cookies with. */
  constructor(store: LtiStore, cookies: CookiePolicy, cookieSecret: string, logger: Logger) {
    this.#store = store;
    this.#cookieSecret = cookieSecret;
    this.#cookies = cookies;
    this.#logger = logger;
  }

  /**
   * Wraps ltijs' login: `redirect` is what ltijs would have done (go to the platform's OIDC
   * endpoint with the state in the URL). Depending on the browser's situation we go there directly,
   * or first through a page that stores the state in platform storage or checks cookies.
   */
  async login(req: Request, res: Response, authUrl: string, redirect: (url: string) => void): Promise<void> {
    const target = new URL(authUrl, 'http://invalid');
    const state = target.searchParams.get('state');
    if (!state) return redirect(authUrl);
    const params: Record<string, string> = {};
    for (const name of LOGIN_PARAMS) {
      const value = field(req.body, name) ?? field(req.query, name);
      if (value !== undefined) params[name] = value;
    }
    const storageTarget = field(req.body, 'lti_storage_target') ?? field(req.query, 'lti_storage_target');
    const framed = req.get('sec-fetch-dest') === 'iframe';
    const nonce = target.searchParams.get('nonce') ?? undefined;
    const record: LoginRecord = { state, iss: params.iss ?? '', params, ...(nonce ? { nonce } : {}) };
    if (storageTarget !== undefined && STORAGE_TARGET.test(storageTarget)) {
      const secret = randomBytes(32).toString('base64url');
      record.storageTarget = storageTarget;
      record.platformOrigin = target.origin;
      record.secretHash = sha256(secret).toString('hex');
      await this.#remember(record);
      res.status(200).type('html').set('Cache-Control', 'no-store').send(
        clientStateLoginPage({ authUrl, storageTarget, platformOrigin: target.origin, key: `state_${state}`, value: secret, newWindowUrl: this.#newWindowUrl(req, params) }),
      );
      return;
    }
    await this.#remember(record);
    if (!framed) return redirect(authUrl);
    res.cookie(PROBE_COOKIE, '1', { ...this.#cookieOptions(), httpOnly: false, signed: false, maxAge: 60_000 });
    res.status(200).type('html').set('Cache-Control', 'no-store').send(cookieCheckPage({ authUrl, cookieName: PROBE_COOKIE, newWindowUrl: this.#newWindowUrl(req, params) }));
  }

  /**
   * Before ltijs validates a launch: lets a launch with its state cookie through; completes a
   * launch that proves its state from platform storage; answers the new-window page when the
   * cookie was blocked. Calls `next` when ltijs should go on.
   */
  async launch(req: Request, res: Response, next: NextFunction): Promise<void> {
    const idToken = field(req.body, 'id_token');
    const state = field(req.body, 'state');
    if (!idToken || !state) return next();
    // The login is used up by this post, whatever the outcome (but for the relay below).
    const taken = await this.#store.take(LOGIN_COLLECTION, { state });
    // No login we know of: ltijs refuses it (no state cookie), or it is a second use of a state.
    if (!taken) return hasCookie(req, `state${state}`) ? this.#refuseUnknownLogin(res) : next();
    const record = taken.fields as unknown as LoginRecord;
    const proof = field(req.body, 'lc_client_state');
    const viaStorage = record.secretHash !== undefined && record.storageTarget !== undefined && record.platformOrigin !== undefined;
    if (!hasCookie(req, `state${state}`) && viaStorage && proof === undefined) {
      // The relay page posts the launch again with the proof from platform storage: keep the login
      // for it, as it was (its ten minutes count from the login, not from this post).
      await taken.putBack();
      launchContinues(res);
      res.status(200).type('html').set('Cache-Control', 'no-store').send(
        clientStateLaunchPage({
          action: 'launch',
          idToken,
          state,
          storageTarget: record.storageTarget as string,
          platformOrigin: record.platformOrigin as string,
          key: `state_${state}`,
          newWindowUrl: this.#newWindowUrl(req, record.params),
        }),
      );
      return;
    }
    const nonce = await this.#nonceProblem(idToken, record);
    if (nonce !== undefined) {
      this.#logger.warn({ issuer: record.iss }, `launch refused: ${nonce === 'used' ? 'the id_token\'s nonce was already used' : 'the id_token\'s nonce is not the one this login sent'}`);
      res.status(401).type('html').set('Cache-Control', 'no-store').send(
        problemPage(
          'This launch could not be verified',
          nonce === 'used' ? 'This launch was already used. Open the activity again from the course page.' : 'This launch does not match a sign-in started in this browser. Open the activity again from the course page.',
        ),
      );
      return;
    }
    if (hasCookie(req, `state${state}`)) return next();
    if (viaStorage) {
      const expected = Buffer.from(record.secretHash as string, 'hex');
      if (proof === undefined || !timingSafeEqual(sha256(proof), expected)) {
        this.#logger.warn({ issuer: record.iss }, 'launch refused: the state read from platform storage does not match the login');
        res.status(401).type('html').send(problemPage('This launch could not be verified', 'The launch did not come from the login this browser started. Open the activity again from the course page.'));
        return;
      }
      // Proven: hand ltijs the state it would have read from its cookie. cookie-parser (inside
      // ltijs) keeps cookies that are already parsed, and then does not set the secret ltijs
      // needs to clear its signed cookie: set both.
      const parsed = req as unknown as { cookies: Record<string, string>; signedCookies: Record<string, string>; secret: string };
      parsed.secret = this.#cookieSecret;
      parsed.cookies = Object.create(null) as Record<string, string>;
      parsed.signedCookies = Object.assign(Object.create(null) as Record<string, string>, { [`state${state}`]: record.iss });
      return next();
    }
    this.#logger.info({ issuer: record.iss }, 'launch arrived without its state cookie; offering a new window');
    res.status(401).type('html').set('Cache-Control', 'no-store').send(newWindowPage(this.#newWindowUrl(req, record.params)));
  }

  /**
   * Why the id_token's nonce does not bind it to this login: `used` (a replay: ltijs has stored it),
   * `mismatch`, or undefined when it is the login's own. A token without a readable nonce is left to
   * ltijs, which refuses it with the claim it lacks.
   */
  async #nonceProblem(idToken: string, record: LoginRecord): Promise<'used' | 'mismatch' | undefined> {
    const claimed = jwtPayload(idToken)?.nonce;
    if (typeof claimed !== 'string' || claimed === '') return undefined;
    if (record.nonce !== undefined && timingSafeEqual(sha256(claimed), sha256(record.nonce))) return undefined;
    return (await this.#store.Get(false, 'nonce', { nonce: claimed })) ? 'used' : 'mismatch';
  }

  #refuseUnknownLogin(res: Response): void {
    this.#logger.warn('launch refused: its state names no login this tool started (or one already used)');
    res.status(401).type('html').set('Cache-Control', 'no-store').send(problemPage('This launch could not be verified', 'This launch does not match a sign-in started in this browser. Open the activity again from the course page.'));
  }

  #cookieOptions() {
    return { secure: this.#cookies.secure, sameSite: this.#cookies.sameSite.toLowerCase() as 'none' | 'lax', path: '/' };
  }

  /** The login URL with the same parameters, to run the whole launch in a window of its own. */
  #newWindowUrl(req: Request, params: Record<string, string>): string {
    // Relative to where this request arrived (/lti/login or /lti/launch), whatever the mount.
    const path = req.originalUrl.split('?')[0]?.replace(/\/[^/]*$/, '/login') ?? '/lti/login';
    return `${path}?${new URLSearchParams(params).toString()}`;
  }

  async #remember(record: LoginRecord): Promise<void> {
    await this.#store.Insert(false, LOGIN_COLLECTION, { ...record });
  }

}
