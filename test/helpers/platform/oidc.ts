// The platform's side of the OIDC third-party-initiated login: the launches it has started (bound to
// a login_hint, an lti_message_hint and the user's platform session) and its authorization endpoint,
// which checks the tool's authentication request and answers the signed id_token as a form_post.
import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import { buildLaunchClaims, loginHintFor, rolesFor } from './claims.ts';
import { autoSubmitForm, HttpError, paramsOf } from './http.ts';
import { newMessageHint } from './layout.ts';
import type { Course, Site } from './site.ts';
import type { AuthRequestRecord, Claims, LaunchOptions, LaunchResourceLink, LaunchUser, MessageType, SigningOptions } from './types.ts';

export interface PendingLaunch {
  loginHint: string;
  messageHint: string;
  /** The user's session cookie at the platform (the auth endpoint requires it, as prompt=none does). */
  session: string;
  clientId: string;
  deploymentId: string;
  user: Required<LaunchUser>;
  roles: string[];
  course: Course | null;
  resourceLink: Required<LaunchResourceLink>;
  messageType: MessageType;
  targetLinkUri: string;
  locale: string;
  custom: Record<string, string>;
  storageTarget?: string;
  placement?: string;
  deepLinkData?: string;
  tamper?: LaunchOptions['tamper'];
  signing?: SigningOptions;
  replayNonce: boolean;
  issued?: { idToken: string; claims: Claims; state: string; redirectUri: string; fields: Record<string, string> };
  authError?: { error: string; description: string };
}

function fillUser(site: Site, user: LaunchUser | undefined, locale: string | undefined): Required<LaunchUser> {
  if (!user) return { ...site.defaults.user, locale: locale ?? site.defaults.user.locale };
  const givenName = user.givenName ?? 'User';
  const familyName = user.familyName ?? user.id;
  const email = user.email ?? `user${user.id.replace(/[^A-Za-z0-9]/g, '').slice(0, 20)}@example.edu`;
  return {
    id: user.id,
    givenName,
    familyName,
    name: user.name ?? `${givenName} ${familyName}`,
    email,
    username: user.username ?? email.split('@')[0] ?? user.id,
    locale: user.locale ?? locale ?? site.defaults.locale,
  };
}

export class Launches {
  #pending = new Map<string, PendingLaunch>();
  #lastNonce: string | undefined;
  /** deep_linking_settings.data values the platform issued, with the deployment they were issued for. */
  readonly deepLinkRequests = new Map<string, { deploymentId: string }>();
  readonly #site: Site;

  constructor(site: Site) {
    this.#site = site;
  }

  create(opts: LaunchOptions = {}): PendingLaunch {
    const site = this.#site;
    const tool = site.requireTool();
    const messageType = opts.messageType ?? 'LtiResourceLinkRequest';
    const course = opts.context === null ? null : site.courses.ensure(opts.context ?? site.defaults.context);
    const user = fillUser(site, opts.user, opts.locale);
    const locale = opts.locale ?? user.locale;
    const roles = opts.roles === undefined ? rolesFor(site.flavor, 'learner') : typeof opts.roles === 'string' ? rolesFor(site.flavor, opts.roles) : [...opts.roles];
    if (course) site.courses.enrolOnLaunch(course, { userId: user.id, roles, name: user.name, givenName: user.givenName, familyName: user.familyName, email: user.email });
    const messageHint = newMessageHint(site.flavor, site.hintSecret, { course: course?.number, locale });
    const pending: PendingLaunch = {
      loginHint: loginHintFor(site.flavor, user.id),
      messageHint,
      session: randomBytes(16).toString('hex'),
      clientId: site.clientId,
      deploymentId: site.deploymentId,
      user,
      roles,
      course,
      resourceLink: { ...site.defaults.resourceLink, ...opts.resourceLink },
      messageType,
      targetLinkUri: opts.targetLinkUri ?? (messageType === 'LtiDeepLinkingRequest' ? tool.deepLinkUrl ?? tool.launchUrl : tool.launchUrl),
      locale,
      custom: { ...opts.custom },
      storageTarget: opts.storageTarget,
      placement: opts.placement,
      deepLinkData: messageType === 'LtiDeepLinkingRequest' ? opts.deepLinkData ?? `dl-${randomBytes(8).toString('hex')}` : undefined,
      tamper: opts.tamper,
      signing: opts.signing,
      replayNonce: opts.replayNonce ?? false,
    };
    this.#pending.set(messageHint, pending);
    return pending;
  }

  get(messageHint: string): PendingLaunch | undefined {
    return this.#pending.get(messageHint);
  }

  /** The parameters of the login initiation request to the tool's login URL. */
  initiationParams(p: PendingLaunch): Record<string, string> {
    const params: Record<string, string> = {
      iss: this.#site.issuer,
      login_hint: p.loginHint,
      target_link_uri: p.targetLinkUri,
      lti_message_hint: p.messageHint,
      client_id: p.clientId,
      lti_deployment_id: p.deploymentId,
    };
    if (this.#site.flavor === 'canvas') Object.assign(params, { canvas_environment: 'prod', canvas_region: 'not_configured' });
    if (p.storageTarget !== undefined) params.lti_storage_target = p.storageTarget;
    return params;
  }

  /** Builds, tampers and signs the id_token for an accepted authentication request. */
  async issue(p: PendingLaunch, nonce: string, state: string, redirectUri: string, lineItemUrl: string | undefined): Promise<NonNullable<PendingLaunch['issued']>> {
    const site = this.#site;
    const usedNonce = p.replayNonce && this.#lastNonce !== undefined ? this.#lastNonce : nonce;
    this.#lastNonce = usedNonce;
    const course = p.course;
    let claims = buildLaunchClaims({
      flavor: site.flavor,
      issuer: site.issuer,
      clientId: p.clientId,
      deploymentId: p.deploymentId,
      nonce: usedNonce,
      user: p.user,
      roles: p.roles,
      context: course && {
        id: course.id, title: course.title, label: course.label,
        membershipsUrl: site.membershipsUrl(course), lineItemsUrl: site.lineItemsUrl(course), lineItemUrl,
      },
      resourceLink: p.resourceLink,
      messageType: p.messageType,
      targetLinkUri: p.targetLinkUri,
      locale: p.locale,
      custom: p.custom,
      platform: { name: site.name, version: site.defaults.version, guid: site.guid },
      returnUrl: site.url(site.layout.returnUrl(course?.number ?? 1, p.resourceLink.id)),
      deepLink: p.deepLinkData === undefined ? undefined : { returnUrl: site.url(site.layout.deepLinkReturnUrl(course?.number ?? 1)), data: p.deepLinkData },
      placement: p.placement,
    });
    if (p.deepLinkData !== undefined) this.deepLinkRequests.set(p.deepLinkData, { deploymentId: p.deploymentId });
    if (p.tamper) claims = p.tamper(claims) ?? claims;
    const idToken = await site.keys.sign(claims, p.signing);
    const fields: Record<string, string> = site.flavor === 'canvas' ? { utf8: '\u2713', authenticity_token: randomBytes(32).toString('base64') } : {};
    Object.assign(fields, { id_token: idToken, state });
    if (p.storageTarget !== undefined) fields.lti_storage_target = p.storageTarget;
    p.issued = { idToken, claims, state, redirectUri, fields };
    return p.issued;
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

class AuthRefusal extends Error {
  readonly code: string;
  constructor(code: string, description: string) {
    super(description);
    this.code = code;
  }
}

export interface AuthDeps {
  site: Site;
  launches: Launches;
  log: AuthRequestRecord[];
  /** The line item of a resource link, for the AGS claim's `lineitem`. */
  lineItemFor(course: Course, resourceLinkId: string): string | undefined;
}

export function authRouter(deps: AuthDeps): Router {
  const { site, launches, log } = deps;
  const router = express.Router();
  router.all(site.layout.auth, async (req, res) => {
    const p = paramsOf(req);
    const record: AuthRequestRecord = { at: Date.now(), method: req.method, params: p };
    log.push(record);
    const pending = p.lti_message_hint === undefined ? undefined : launches.get(p.lti_message_hint);
    const refuse = (code: string, description: string) => {
      record.error = code;
      record.errorDescription = description;
      if (pending) pending.authError = { error: code, description };
    };
    // Without a known client and a registered redirect_uri the platform must not redirect anywhere.
    if (p.client_id !== site.clientId) {
      refuse('unauthorized_client', `unknown client_id: ${p.client_id ?? '(none)'}`);
      throw new HttpError(400, 'unauthorized_client', record.errorDescription ?? '', { format: 'html' });
    }
    const redirectUri = p.redirect_uri ?? '';
    if (!site.redirectUris().includes(redirectUri)) {
      refuse('invalid_request', `redirect_uri is not registered for this tool: ${redirectUri || '(none)'}`);
      throw new HttpError(400, 'invalid_request', record.errorDescription ?? '', { format: 'html' });
    }
    const state = p.state ?? '';
    try {
      if (p.response_type !== 'id_token') throw new AuthRefusal('unsupported_response_type', `response_type must be id_token, got ${p.response_type ?? '(none)'}`);
      if (!(p.scope ?? '').split(' ').includes('openid')) throw new AuthRefusal('invalid_scope', `scope must include openid, got ${p.scope ?? '(none)'}`);
      if (p.response_mode !== 'form_post') throw new AuthRefusal('invalid_request', `response_mode must be form_post, got ${p.response_mode ?? '(none)'}`);
      if (p.prompt !== 'none') throw new AuthRefusal('invalid_request', `prompt must be none, got ${p.prompt ?? '(none)'}`);
      if (!p.nonce) throw new AuthRefusal('invalid_request', 'nonce is required');
      if (!pending) throw new AuthRefusal('invalid_request', 'lti_message_hint does not match a launch this platform started');
      if (pending.issued) throw new AuthRefusal('invalid_request', 'lti_message_hint was already used');
      if (p.login_hint !== pending.loginHint) throw new AuthRefusal('invalid_request', 'login_hint does not match the launch');
      if (cookieValue(req.headers.cookie, site.layout.sessionCookie) !== pending.session) {
        throw new AuthRefusal('login_required', 'no platform session for the user of this launch (was the request sent by the browser?)');
      }
      const lineItemUrl = pending.course ? deps.lineItemFor(pending.course, pending.resourceLink.id) : undefined;
      const issued = await launches.issue(pending, p.nonce, state, redirectUri, lineItemUrl);
      res.type('html').set('Cache-Control', 'no-store').send(autoSubmitForm(redirectUri, issued.fields));
    } catch (error) {
      if (!(error instanceof AuthRefusal)) throw error;
      refuse(error.code, error.message);
      const fields: Record<string, string> = { error: error.code, error_description: error.message };
      if (p.state !== undefined) fields.state = p.state;
      res.type('html').set('Cache-Control', 'no-store').send(autoSubmitForm(redirectUri, fields));
    }
  });
  return router;
}
