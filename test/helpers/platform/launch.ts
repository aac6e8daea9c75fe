// A launch as the user's browser performs it: the platform page sends the browser to the tool's
// login URL, the tool sends it to the platform's auth endpoint, which answers a form the browser
// posts to the tool. Every step is real HTTP through one UserAgent (cookie jar).
import { randomBytes } from 'node:crypto';
import { parseForms, UserAgent } from './user-agent.ts';
import type { Launches, PendingLaunch } from './oidc.ts';
import type { Site } from './site.ts';
import type { Claims, Cookie, HttpResponse, LaunchOptions } from './types.ts';

export interface PreparedLaunch {
  idToken: string;
  state: string;
  /** Where the platform's form posts (the redirect_uri the tool asked for). */
  launchUrl: string;
  /** Every field of the platform's form (id_token, state, and e.g. lti_storage_target). */
  fields: Record<string, string>;
  cookies: Cookie[];
  idTokenClaims: Claims;
  /** The browser that ran the login; postLaunch uses it so the tool's cookies go along. */
  userAgent: UserAgent;
}

export type LaunchResult =
  /** The tool's login answer did not lead the browser to the platform's auth endpoint (e.g. a page that needs script). */
  | { stage: 'login'; response: HttpResponse; cookies: Cookie[]; userAgent: UserAgent }
  /** The platform refused the authentication request; `response` is the platform's 400 page, or the tool's answer to the posted error. */
  | { stage: 'auth'; error: string; errorDescription: string; response: HttpResponse; cookies: Cookie[]; userAgent: UserAgent }
  | {
      stage: 'launched';
      response: HttpResponse;
      cookies: Cookie[];
      idToken: string;
      idTokenClaims: Claims;
      state: string;
      userAgent: UserAgent;
    };

export interface FlowOptions {
  /** Reuse a browser (its cookies) instead of a fresh one. */
  userAgent?: UserAgent;
}

/** Thrown by prepareLaunch when the flow stops before the platform answered an id_token. */
export class LaunchStoppedError extends Error {
  readonly result: Exclude<LaunchResult, { stage: 'launched' }>;
  constructor(result: Exclude<LaunchResult, { stage: 'launched' }>) {
    const detail = result.stage === 'auth' ? `${result.error}: ${result.errorDescription}` : `HTTP ${result.response.status} from ${result.response.url}`;
    super(`the launch stopped at the ${result.stage} stage (${detail})`);
    this.name = 'LaunchStoppedError';
    this.result = result;
  }
}

export interface FlowDeps {
  site: Site;
  launches: Launches;
}

function withQuery(url: string, params: Record<string, string>): string {
  const target = new URL(url);
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
  return target.toString();
}

function samePath(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  return x.origin === y.origin && x.pathname === y.pathname;
}

/** Login initiation through the auth endpoint; stops before posting the id_token to the tool. */
export async function runLogin(deps: FlowDeps, opts: LaunchOptions, flow: FlowOptions): Promise<PreparedLaunch | Exclude<LaunchResult, { stage: 'launched' }>> {
  const { site, launches } = deps;
  const tool = site.requireTool();
  const ua = flow.userAgent ?? new UserAgent();
  const pending: PendingLaunch = launches.create(opts);
  ua.jar.set(site.baseUrl, site.layout.sessionCookie, pending.session);
  const params = launches.initiationParams(pending);
  const coursePage = site.url(`/course/${pending.course?.number ?? 1}`);
  const response = opts.initiationMethod === 'POST'
    ? await ua.navigate(tool.loginUrl, { method: 'POST', form: params, from: coursePage })
    : await ua.navigate(withQuery(tool.loginUrl, params));
  const authUrl = site.url(site.layout.auth);
  if (!samePath(response.url, authUrl)) return { stage: 'login', response, cookies: ua.jar.list(), userAgent: ua };
  const issued = pending.issued;
  if (issued) {
    return {
      idToken: issued.idToken,
      state: issued.state,
      launchUrl: issued.redirectUri,
      fields: { ...issued.fields },
      cookies: ua.jar.list(),
      idTokenClaims: issued.claims,
      userAgent: ua,
    };
  }
  const error = pending.authError ?? { error: 'invalid_request', description: `the auth endpoint answered HTTP ${response.status}` };
  const form = response.status === 200 ? parseForms(response.body, response.url)[0] : undefined;
  // A browser posts the platform's error form to the tool, as it would an id_token.
  const final = form ? await ua.submitForm(response) : response;
  return { stage: 'auth', error: error.error, errorDescription: error.description, response: final, cookies: ua.jar.list(), userAgent: ua };
}

export async function prepareLaunch(deps: FlowDeps, opts: LaunchOptions = {}, flow: FlowOptions = {}): Promise<PreparedLaunch> {
  const result = await runLogin(deps, opts, flow);
  if ('stage' in result) throw new LaunchStoppedError(result);
  return result;
}

export interface PostOverrides {
  /** Post this state instead of the one the tool sent. */
  state?: string;
  idToken?: string;
  /** Extra or replaced form fields. */
  fields?: Record<string, string>;
  /** Post from another browser (e.g. one without the tool's cookies). */
  userAgent?: UserAgent;
}

/** Posts a prepared id_token to the tool as the platform's form would, and follows the tool's redirects. */
export async function postLaunch(deps: FlowDeps, prepared: PreparedLaunch, overrides: PostOverrides = {}): Promise<Extract<LaunchResult, { stage: 'launched' }>> {
  const ua = overrides.userAgent ?? prepared.userAgent;
  const fields = { ...prepared.fields, ...overrides.fields };
  if (overrides.state !== undefined) fields.state = overrides.state;
  if (overrides.idToken !== undefined) fields.id_token = overrides.idToken;
  const response = await ua.navigate(prepared.launchUrl, { method: 'POST', form: fields, from: deps.site.url(deps.site.layout.auth) });
  return {
    stage: 'launched',
    response,
    cookies: ua.jar.list(),
    idToken: fields.id_token ?? '',
    idTokenClaims: prepared.idTokenClaims,
    state: fields.state ?? '',
    userAgent: ua,
  };
}

export async function launch(deps: FlowDeps, opts: LaunchOptions = {}, flow: FlowOptions = {}): Promise<LaunchResult> {
  const result = await runLogin(deps, opts, flow);
  if ('stage' in result) return result;
  const state = opts.state === 'mismatch' ? `mismatch-${randomBytes(8).toString('hex')}` : undefined;
  return postLaunch(deps, result, { state });
}
