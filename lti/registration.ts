// LTI Dynamic Registration 1.0, tool side, at GET /lti/register: the LMS (Moodle 4+, Canvas) opens
// it with `openid_configuration` and `registration_token`; we fetch the platform's configuration,
// post our client registration, store the platform and tell the LMS window we are done.
// ltijs has its own (dynReg option), but it drops the deployment id the platform returns, checks no
// issuer, names platforms randomly and answers errors as JSON; so this one is ours.
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../server/logger/index.ts';
import { httpUrl } from './admin-api.ts';
import { checkReachable, fetchOutbound, hostAllowList, type OutboundPolicy, type OutboundRequest } from './outbound.ts';
import { escapeHtml, problemPage } from './pages.ts';
import { SCOPE } from './services.ts';
import type { PlatformRegistry, RegisteredPlatform } from './platforms.ts';

const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration';
const PLATFORM_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-platform-configuration';
const CLAIMS = ['iss', 'sub', 'name', 'given_name', 'family_name', 'email'];
const TOOL_NAME = 'Live Classroom';
const FETCH_TIMEOUT_MS = 10_000;
/** An LMS's OpenID configuration is a few kilobytes (Moodle's about 3, Canvas' about 4). */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_REDIRECTS = 3;
/** Registrations one client address may start per window. */
export const REGISTRATION_RATE = { count: 10, windowMs: 10 * 60_000 } as const;
/** Registrations running at once (each may wait FETCH_TIMEOUT_MS for an LMS). */
const MAX_IN_FLIGHT = 8;
/** Platforms that registered themselves and wait for an administrator; past this, new ones are refused. */
export const MAX_PENDING_REGISTRATIONS = 20;

const openIdConfiguration = z.object({
  issuer: httpUrl,
  authorization_endpoint: httpUrl,
  token_endpoint: httpUrl,
  jwks_uri: httpUrl,
  registration_endpoint: httpUrl,
  [PLATFORM_CONFIGURATION]: z.object({ product_family_code: z.string().max(100).optional() }).passthrough().optional(),
});
type OpenIdConfiguration = z.infer<typeof openIdConfiguration>;
/** An identifier an LMS assigns: bounded, without control characters (NUL cannot even be stored). */
const identifier = z.union([z.string().min(1).max(1000).regex(/^[^\u0000-\u001f\u007f]+$/), z.number()]).transform(String);
const registrationResponse = z.object({
  client_id: identifier,
  [TOOL_CONFIGURATION]: z.object({ deployment_id: identifier.optional() }).passthrough().optional(),
});

/**
 * Whatever went wrong talking to the LMS (unreachable, a refused address, an HTTP error, a document
 * that is not a configuration, a refused registration): the log says what, the page says only that
 * it failed, so /lti/register cannot be used to learn what answers where.
 */
class LmsExchangeError extends Error {
  constructor(detail: string, options?: ErrorOptions) {
    super(detail, options);
    this.name = 'LmsExchangeError';
  }
}

export interface RegistrationOptions {
  publicUrl: string;
  autoActivate: boolean;
  /** Hosts that may resolve to loopback or private addresses (LTI_REGISTRATION_PRIVATE_HOSTS). */
  privateHosts: readonly string[];
  platforms: PlatformRegistry;
  logger: Logger;
  now?: () => number;
}

/** What we ask the platform for: our URLs under PUBLIC_URL, the two message types, NRPS and AGS. */
export function toolRegistration(publicUrl: string, productFamily: string | undefined): Record<string, unknown> {
  const launch = `${publicUrl}/lti/launch`;
  const canvas = productFamily === 'canvas';
  const message = (type: string, placements: string[]) => ({
    type,
    target_link_uri: launch,
    label: TOOL_NAME,
    ...(canvas ? { placements } : {}),
  });
  return {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: `${publicUrl}/lti/login`,
    redirect_uris: [launch],
    client_name: TOOL_NAME,
    jwks_uri: `${publicUrl}/lti/keys`,
    token_endpoint_auth_method: 'private_key_jwt',
    scope: Object.values(SCOPE).join(' '),
    [TOOL_CONFIGURATION]: {
      domain: new URL(publicUrl).host,
      target_link_uri: launch,
      description: 'Live classes inside the course, recorded for replay.',
      claims: CLAIMS,
      messages: [message('LtiResourceLinkRequest', ['course_navigation']), message('LtiDeepLinkingRequest', ['link_selection', 'assignment_selection'])],
      // Canvas sends names and emails only to tools registered as public.
      ...(canvas ? { 'https://canvas.instructure.com/lti/privacy_level': 'public' } : {}),
    },
  };
}

async function fetchJson(target: string, init: OutboundRequest, what: string, policy: OutboundPolicy): Promise<{ status: number; json: unknown; url: string }> {
  let answer: Awaited<ReturnType<typeof fetchOutbound>>;
  try {
    answer = await fetchOutbound(target, init, policy);
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    throw new LmsExchangeError(`${what} at ${target} could not be fetched: ${cause.code ?? cause.message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    json = undefined;
  }
  return { status: answer.status, json, url: answer.url };
}

async function fetchConfiguration(configurationUrl: string, token: string | undefined, policy: OutboundPolicy): Promise<OpenIdConfiguration> {
  const what = "The LMS's OpenID configuration";
  const { status, json, url: answeredBy } = await fetchJson(configurationUrl, { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, what, policy);
  if (status < 200 || status > 299) throw new LmsExchangeError(`${what} at ${configurationUrl} answered HTTP ${status}.`);
  if (json === undefined) throw new LmsExchangeError(`${what} at ${configurationUrl} is not JSON.`);
  const parsed = openIdConfiguration.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LmsExchangeError(`${what} at ${configurationUrl} is not usable: ${issue?.path.join('.') || 'document'} is ${issue?.code === 'invalid_type' ? 'missing' : 'invalid'}.`);
  }
  // LTI Dynamic Registration 1.0, section 3.5.1: the issuer must match the configuration URL's
  // origin, or any site could register itself under another LMS's issuer.
  // The document that answered must come from there too: a redirect (an open redirect on the LMS's
  // site, say) must not let another site speak for the issuer.
  const issuerOrigin = new URL(parsed.data.issuer).origin;
  for (const origin of new Set([new URL(configurationUrl).origin, new URL(answeredBy).origin])) {
    if (issuerOrigin !== origin) throw new LmsExchangeError(`The configuration at ${configurationUrl} (answered by ${answeredBy}) names the issuer ${parsed.data.issuer}, which is not on ${origin}.`);
  }
  // The endpoints the tool will call later (key set, tokens, services) must be reachable under the
  // same rules as the configuration itself.
  for (const endpoint of [parsed.data.authorization_endpoint, parsed.data.token_endpoint, parsed.data.jwks_uri, parsed.data.registration_endpoint]) {
    try {
      await checkReachable(endpoint, policy);
    } catch (error) {
      throw new LmsExchangeError(`The configuration names ${endpoint}, which Live Classroom will not call: ${(error as Error).message}.`, { cause: error });
    }
  }
  return parsed.data;
}

async function postRegistration(configuration: OpenIdConfiguration, token: string | undefined, body: Record<string, unknown>, policy: OutboundPolicy) {
  const { status, json } = await fetchJson(
    configuration.registration_endpoint,
    {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    },
    "The LMS's registration endpoint",
    policy,
  );
  if (status < 200 || status > 299) {
    const answer = json as { error?: unknown; error_description?: unknown; errorMessage?: unknown } | undefined;
    const reason = [answer?.error, answer?.error_description ?? answer?.errorMessage].filter((v) => typeof v === 'string').join(': ');
    throw new LmsExchangeError(`The registration endpoint answered HTTP ${status}${reason ? ` (${reason.slice(0, 300)})` : ''}.`);
  }
  const parsed = registrationResponse.safeParse(json);
  if (!parsed.success) throw new LmsExchangeError('The registration endpoint answered without a client_id.');
  return { clientId: parsed.data.client_id, deploymentId: parsed.data[TOOL_CONFIGURATION]?.deployment_id };
}

/** The first four groups of an IPv6 address (its /64). */
function ipv6Prefix64(address: string): string {
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** At most `count` registrations per client address in `windowMs`. */
class AddressRate {
  readonly #seen = new Map<string, number[]>();
  readonly #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }
  /** Counts one for `address` (an IPv6 address by its /64: one machine holds a whole /64); answers how many ms to wait, or 0. */
  take(address: string): number {
    const now = this.#now();
    const key = isIPv6(address) && !address.startsWith('::ffff:') ? ipv6Prefix64(address) : address;
    const recent = (this.#seen.get(key) ?? []).filter((at) => now - at < REGISTRATION_RATE.windowMs);
    this.#seen.delete(key);
    if (recent.length >= REGISTRATION_RATE.count) {
      this.#seen.set(key, recent);
      return (recent[0] as number) + REGISTRATION_RATE.windowMs - now;
    }
    recent.push(now);
    this.#seen.set(key, recent);
    // Bounded: the addresses seen longest ago go first (nobody's count is wiped wholesale).
    for (const oldest of this.#seen.keys()) {
      if (this.#seen.size <= 10_000) break;
      this.#seen.delete(oldest);
    }
    return 0;
  }
}

function platformName(configuration: OpenIdConfiguration): string {
  const family = configuration[PLATFORM_CONFIGURATION]?.product_family_code;
  const product = family === 'moodle' ? 'Moodle' : family === 'canvas' ? 'Canvas' : family || 'LMS';
  return `${product} ${new URL(configuration.issuer).host}`;
}

function activationCommand(platform: RegisteredPlatform): string {
  const deployment = platform.deploymentIds.length === 0 ? ' --deployment-id <the deployment id the LMS shows>' : '';
  return `npm run platform -- activate --issuer ${platform.issuer} --client-id ${platform.clientId}${deployment}`;
}

/** The page the LMS frames: what happened, and the close message the LMS waits for. */
function registeredPage(platform: RegisteredPlatform): string {
  const next = platform.active
    ? 'Launches from this LMS work now.'
    : `An administrator of Live Classroom must activate it before launches work: ${activationCommand(platform)}` +
      (platform.deploymentIds.length === 0 ? ' (this LMS sent no deployment id: give the one it shows for the installed tool).' : '');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Live Classroom registered</title></head>
<body>
<main><h1>Live Classroom is registered</h1>
<p>${escapeHtml(platform.name)} (${escapeHtml(platform.issuer)}), client id ${escapeHtml(platform.clientId)}.</p>
<p>${escapeHtml(next)}</p></main>
<script>(window.opener || window.parent).postMessage({ subject: 'org.imsglobal.lti.close' }, '*');</script>
</body>
</html>
`;
}

export function registrationHandler({ publicUrl, autoActivate, privateHosts, platforms, logger, now = Date.now }: RegistrationOptions): RequestHandler {
  const log = logger.child({ route: 'register' });
  const policy: OutboundPolicy = { allowPrivate: hostAllowList(privateHosts), neverLinkLocal: true, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_BODY_BYTES, maxRedirects: MAX_REDIRECTS };
  const rate = new AddressRate(now);
  let inFlight = 0;
  const fail = (res: Response, status: number, title: string, message: string, detail?: Record<string, unknown>) => {
    log.warn({ status, ...detail }, `dynamic registration refused: ${message}`);
    res.status(status).type('html').set('Cache-Control', 'no-store').send(problemPage(title, message));
  };
  return async (req: Request, res: Response, next: NextFunction) => {
    const configurationUrl = typeof req.query.openid_configuration === 'string' ? req.query.openid_configuration.trim() : '';
    const token = typeof req.query.registration_token === 'string' && req.query.registration_token !== '' ? req.query.registration_token : undefined;
    if (configurationUrl === '') {
      return fail(res, 400, 'Not a registration request', 'This address is for LTI Dynamic Registration: the LMS opens it with an openid_configuration parameter.');
    }
    if (configurationUrl.length > 2048 || !httpUrl.safeParse(configurationUrl).success) {
      return fail(res, 400, 'Not a registration request', 'The openid_configuration parameter is not an http(s) URL.');
    }
    if (token !== undefined && (token.length > 8192 || /[\u0000-\u001f\u007f]/.test(token))) {
      return fail(res, 400, 'Not a registration request', 'The registration_token parameter is not readable.');
    }
    const wait = rate.take(req.ip ?? 'unknown');
    if (wait > 0) {
      res.set('Retry-After', String(Math.ceil(wait / 1000)));
      return fail(res, 429, 'Too many registrations', `This address has started ${REGISTRATION_RATE.count} registrations in the last ${REGISTRATION_RATE.windowMs / 60_000} minutes. Try again in ${Math.ceil(wait / 60_000)} minutes.`, { address: req.ip });
    }
    if (inFlight >= MAX_IN_FLIGHT) {
      res.set('Retry-After', '10');
      return fail(res, 503, 'Registration is busy', 'Live Classroom is completing other registrations. Try again in a moment.');
    }
    inFlight++;
    const reference = randomBytes(6).toString('hex');
    try {
      if (!autoActivate) {
        const pending = (await platforms.list()).filter((p) => !p.active).length;
        if (pending >= MAX_PENDING_REGISTRATIONS) {
          return fail(
            res,
            429,
            'Too many registrations await activation',
            `${pending} LMS registrations are waiting for an administrator of Live Classroom to activate or remove them (npm run platform -- list); no more are taken until then.`,
          );
        }
      }
      const configuration = await fetchConfiguration(configurationUrl, token, policy);
      const family = configuration[PLATFORM_CONFIGURATION]?.product_family_code;
      const { clientId, deploymentId } = await postRegistration(configuration, token, toolRegistration(publicUrl, family), policy);
      const existing = await platforms.get(configuration.issuer, clientId);
      // A registration creates a platform; it never changes one that exists (its endpoints, its
      // key set, its deployments): that is an administrator's to do, with npm run platform.
      if (existing) throw new LmsExchangeError(`The LMS answered client id ${clientId} of ${configuration.issuer}, which is already registered; a registration does not change it (an administrator can remove it, or change it with npm run platform).`);
      const platform = await platforms.add(
        {
          name: platformName(configuration),
          issuer: configuration.issuer,
          clientId,
          authUrl: configuration.authorization_endpoint,
          tokenUrl: configuration.token_endpoint,
          jwksUrl: configuration.jwks_uri,
        },
        deploymentId === undefined ? [] : [deploymentId],
        { active: autoActivate, allowNoDeployment: true },
      );
      log.info(
        { issuer: platform.issuer, clientId, deployment: deploymentId ?? null, active: platform.active },
        platform.active ? 'platform registered itself and is active' : `platform registered itself; awaiting activation: ${activationCommand(platform)}`,
      );
      res.status(200).type('html').send(registeredPage(platform));
    } catch (error) {
      if (error instanceof LmsExchangeError) {
        return fail(
          res,
          502,
          'The registration could not be completed',
          `Live Classroom could not complete the registration with this LMS. An administrator of Live Classroom finds the reason in its log under reference ${reference}.`,
          { reference, address: req.ip, detail: error.message },
        );
      }
      next(error);
    } finally {
      inFlight--;
    }
  };
}
