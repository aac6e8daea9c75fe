// LTI Dynamic Registration 1.0, tool side, at GET /lti/register: the LMS (Moodle 4+, Canvas) opens
// it with `openid_configuration` and `registration_token`; we fetch the platform's configuration,
// post our client registration, store the platform and tell the LMS window we are done.
// ltijs has its own (dynReg option), but it drops the deployment id the platform returns, checks no
// issuer, names platforms randomly and answers errors as JSON; so this one is ours.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../server/logger.ts';
import { httpUrl } from './admin-api.ts';
import { escapeHtml, problemPage } from './pages.ts';
import { SCOPE } from './services.ts';
import type { PlatformRegistry, RegisteredPlatform } from './platforms.ts';

const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration';
const PLATFORM_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-platform-configuration';
const CLAIMS = ['iss', 'sub', 'name', 'given_name', 'family_name', 'email'];
const TOOL_NAME = 'Live Classroom';
const FETCH_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1_000_000;

const openIdConfiguration = z.object({
  issuer: httpUrl,
  authorization_endpoint: httpUrl,
  token_endpoint: httpUrl,
  jwks_uri: httpUrl,
  registration_endpoint: httpUrl,
  [PLATFORM_CONFIGURATION]: z.object({ product_family_code: z.string().optional() }).passthrough().optional(),
});
type OpenIdConfiguration = z.infer<typeof openIdConfiguration>;
const registrationResponse = z.object({
  client_id: z.union([z.string().min(1), z.number()]).transform(String),
  [TOOL_CONFIGURATION]: z.object({ deployment_id: z.union([z.string().min(1), z.number()]).transform(String).optional() }).passthrough().optional(),
});

/** A registration that cannot go on, with the status and the sentence the admin sees. */
class RegistrationError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(status: number, title: string, message: string) {
    super(message);
    this.name = 'RegistrationError';
    this.status = status;
    this.title = title;
  }
}

export interface RegistrationOptions {
  publicUrl: string;
  autoActivate: boolean;
  platforms: PlatformRegistry;
  logger: Logger;
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

function describeFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** Reads at most MAX_BODY_BYTES of a response. */
async function readBody(response: globalThis.Response, what: string): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new RegistrationError(502, 'The LMS answered too much', `${what} is larger than ${MAX_BODY_BYTES} bytes.`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function fetchJson(target: string, init: RequestInit, what: string): Promise<{ status: number; json: unknown }> {
  let response: globalThis.Response;
  try {
    response = await fetch(target, { ...init, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (error) {
    throw new RegistrationError(502, 'The LMS could not be reached', `${what} at ${target} could not be fetched: ${describeFailure(error)}.`);
  }
  const text = await readBody(response, what);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json };
}

async function fetchConfiguration(configurationUrl: string, token: string | undefined): Promise<OpenIdConfiguration> {
  const what = "The LMS's OpenID configuration";
  const { status, json } = await fetchJson(
    configurationUrl,
    { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
    what,
  );
  if (status < 200 || status > 299) throw new RegistrationError(502, 'The LMS refused', `${what} at ${configurationUrl} answered HTTP ${status}.`);
  if (json === undefined) throw new RegistrationError(502, 'Not an OpenID configuration', `${what} at ${configurationUrl} is not JSON.`);
  const parsed = openIdConfiguration.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RegistrationError(
      502,
      'Not an OpenID configuration',
      `${what} at ${configurationUrl} is not usable: ${issue?.path.join('.') || 'document'} is ${issue?.code === 'invalid_type' ? 'missing' : 'invalid'}.`,
    );
  }
  // LTI Dynamic Registration 1.0, section 3.5.1: the issuer must match the configuration URL's
  // origin, or any site could register itself under another LMS's issuer.
  const issuerOrigin = new URL(parsed.data.issuer).origin;
  const configurationOrigin = new URL(configurationUrl).origin;
  if (issuerOrigin !== configurationOrigin) {
    throw new RegistrationError(
      400,
      'Registration refused',
      `The configuration at ${configurationUrl} names the issuer ${parsed.data.issuer}, which is not on ${configurationOrigin}.`,
    );
  }
  return parsed.data;
}

async function postRegistration(configuration: OpenIdConfiguration, token: string | undefined, body: Record<string, unknown>) {
  const { status, json } = await fetchJson(
    configuration.registration_endpoint,
    {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    },
    "The LMS's registration endpoint",
  );
  if (status < 200 || status > 299) {
    const answer = json as { error?: unknown; error_description?: unknown; errorMessage?: unknown } | undefined;
    const reason = [answer?.error, answer?.error_description ?? answer?.errorMessage].filter((v) => typeof v === 'string').join(': ');
    throw new RegistrationError(502, 'The LMS refused the registration', `The registration endpoint answered HTTP ${status}${reason ? ` (${reason})` : ''}.`);
  }
  const parsed = registrationResponse.safeParse(json);
  if (!parsed.success) throw new RegistrationError(502, 'The LMS refused the registration', 'The registration endpoint answered without a client_id.');
  return { clientId: parsed.data.client_id, deploymentId: parsed.data[TOOL_CONFIGURATION]?.deployment_id };
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

export function registrationHandler({ publicUrl, autoActivate, platforms, logger }: RegistrationOptions): RequestHandler {
  const log = logger.child({ route: 'register' });
  const fail = (res: Response, status: number, title: string, message: string) => {
    log.warn({ status }, `dynamic registration refused: ${message}`);
    res.status(status).type('html').send(problemPage(title, message));
  };
  return async (req: Request, res: Response, next: NextFunction) => {
    const configurationUrl = typeof req.query.openid_configuration === 'string' ? req.query.openid_configuration.trim() : '';
    const token = typeof req.query.registration_token === 'string' && req.query.registration_token !== '' ? req.query.registration_token : undefined;
    if (configurationUrl === '') {
      return fail(res, 400, 'Not a registration request', 'This address is for LTI Dynamic Registration: the LMS opens it with an openid_configuration parameter.');
    }
    if (!httpUrl.safeParse(configurationUrl).success) return fail(res, 400, 'Not a registration request', 'The openid_configuration parameter is not an http(s) URL.');
    try {
      const configuration = await fetchConfiguration(configurationUrl, token);
      const family = configuration[PLATFORM_CONFIGURATION]?.product_family_code;
      const { clientId, deploymentId } = await postRegistration(configuration, token, toolRegistration(publicUrl, family));
      const existing = await platforms.get(configuration.issuer, clientId);
      const platform = await platforms.add(
        {
          name: existing?.name ?? platformName(configuration),
          issuer: configuration.issuer,
          clientId,
          authUrl: configuration.authorization_endpoint,
          tokenUrl: configuration.token_endpoint,
          jwksUrl: configuration.jwks_uri,
        },
        deploymentId === undefined ? [] : [deploymentId],
        // A registration never deactivates a platform an administrator activated.
        { active: autoActivate || existing?.active === true, allowNoDeployment: true },
      );
      log.info(
        { issuer: platform.issuer, clientId, deployment: deploymentId ?? null, active: platform.active },
        platform.active ? 'platform registered itself and is active' : `platform registered itself; awaiting activation: ${activationCommand(platform)}`,
      );
      res.status(200).type('html').send(registeredPage(platform));
    } catch (error) {
      if (error instanceof RegistrationError) return fail(res, error.status, error.title, error.message);
      next(error);
    }
  };
}
