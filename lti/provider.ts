// ltijs, kept inside lti/: one Provider per service (ltijs exports a singleton; tests run several
// services in one process), stored through our LtiStore, mounted under /lti in serverless mode.
import type { RequestHandler, Request, Response } from 'express';
import './ltijs-patches.ts';
import ltijs from 'ltijs';
import type { Logger } from '../server/logger/index.ts';
import type { LtijsServicesApi as LtijsServices } from './services.ts';
import type { LtiStore } from './store.ts';

/** What ltijs hands a launch callback (`res.locals.token`), as far as we use it. */
export interface LtijsToken {
  iss: string;
  user: string;
  clientId: string;
  deploymentId: string;
  platformId: string;
  userInfo?: { given_name?: string; family_name?: string; name?: string; email?: string };
  platformInfo?: { product_family_code?: string; name?: string };
  platformContext: {
    contextId: string;
    roles?: string[];
    context?: { id?: string; label?: string; title?: string; type?: string[] };
    resource?: { id?: string; title?: string };
    custom?: Record<string, unknown>;
    launchPresentation?: { locale?: string; document_target?: string; return_url?: string };
    messageType?: string;
    deepLinkingSettings?: Record<string, unknown>;
    namesRoles?: { context_memberships_url?: string };
    endpoint?: { lineitems?: string; lineitem?: string; scope?: string[] };
  };
}

export interface PlatformRegistration {
  name: string;
  issuer: string;
  clientId: string;
  authUrl: string;
  tokenUrl: string;
  jwksUrl: string;
}

type Handler = (token: LtijsToken, req: Request, res: Response) => unknown;
type NextFn = (error?: unknown) => void;
type ErrorHandler = (req: Request, res: Response) => unknown;

/** The slice of ltijs' Provider we call. */
export interface LtijsProvider {
  app: RequestHandler & { post(path: string, handler: (req: Request, res: Response, next: NextFn) => unknown): unknown };
  setup(key: string, database: { plugin: LtiStore }, options: Record<string, unknown>): unknown;
  deploy(options: { serverless: boolean; silent: boolean }): Promise<boolean>;
  onConnect(handler: (token: LtijsToken, req: Request, res: Response, next: NextFn) => unknown): void;
  onDeepLinking(handler: (token: LtijsToken, req: Request, res: Response, next: NextFn) => unknown): void;
  onInvalidToken(handler: ErrorHandler): void;
  onSessionTimeout(handler: ErrorHandler): void;
  onUnregisteredPlatform(handler: ErrorHandler): void;
  onInactivePlatform(handler: ErrorHandler): void;
  registerPlatform(platform: Record<string, unknown>): Promise<unknown>;
  deletePlatform(url: string, clientId: string): Promise<boolean>;
  getPlatform(url: string, clientId?: string): Promise<unknown>;
  NamesAndRoles: LtijsServices['NamesAndRoles'];
  Grade: LtijsServices['Grade'];
  DeepLinking: { createDeepLinkingMessage(token: LtijsToken, items: unknown[], options?: Record<string, unknown>): Promise<string> };
}

export interface ProviderOptions {
  key: string;
  store: LtiStore;
  publicUrl: string;
  logger: Logger;
  onInvalidToken: ErrorHandler;
  onUnknownPlatform: ErrorHandler;
  onInactivePlatform: ErrorHandler;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The cookies ltijs sets (the OIDC state): SameSite=None; Secure over https, and on loopback,
 * which browsers treat as secure (local development, the tests). Lax elsewhere, where a framed
 * launch cannot keep cookies anyway and falls back to platform storage or a new window.
 */
export function cookiePolicy(publicUrl: string): { secure: boolean; sameSite: 'None' | 'Lax' } {
  const url = new URL(publicUrl);
  const secure = url.protocol === 'https:' || LOOPBACK.has(url.hostname);
  return secure ? { secure: true, sameSite: 'None' } : { secure: false, sameSite: 'Lax' };
}

/** ltijs does not await its callbacks' promises: their failures go to express. */
function settle(handler: Handler) {
  return (token: LtijsToken, req: Request, res: Response, next: NextFn) =>
    Promise.resolve()
      .then(() => handler(token, req, res))
      .catch(next);
}

/** What a verified launch becomes: a resource link's, and a deep linking request's. */
export function handleMessages(provider: LtijsProvider, handlers: { onLaunch: Handler; onDeepLinking: Handler }): void {
  provider.onConnect(settle(handlers.onLaunch));
  provider.onDeepLinking(settle(handlers.onDeepLinking));
}

export async function createProvider(options: ProviderOptions): Promise<LtijsProvider> {
  const singleton = (ltijs as unknown as { Provider: object }).Provider;
  const ProviderClass = Object.getPrototypeOf(singleton).constructor as new () => LtijsProvider;
  const provider = new ProviderClass();
  provider.setup(
    options.key,
    { plugin: options.store },
    {
      appRoute: '/launch',
      loginRoute: '/login',
      keysetRoute: '/keys',
      dynRegRoute: '/register',
      // ltijs' default CORS reflects any origin with credentials; the LMS never needs it.
      cors: false,
      // Framed in the LMS page, cookies must be SameSite=None; Secure to be sent at all.
      cookies: cookiePolicy(options.publicUrl),
      // Allow for clock skew between the LMS and us; nonces are still single-use.
      tokenMaxAge: 60,
      // Answer the launch POST itself instead of redirecting to a cookie-bound session: the launch
      // must work framed in browsers that block third-party cookies. Later requests carry the ltik.
      ltiaas: true,
    },
  );
  provider.onInvalidToken(options.onInvalidToken);
  provider.onSessionTimeout(options.onInvalidToken);
  provider.onUnregisteredPlatform(options.onUnknownPlatform);
  provider.onInactivePlatform(options.onInactivePlatform);
  // ltijs' deploy() adds a SIGINT handler that calls process.exit(); main.ts owns signals.
  const before = new Set(process.listeners('SIGINT'));
  await provider.deploy({ serverless: true, silent: true });
  for (const listener of process.listeners('SIGINT')) if (!before.has(listener)) process.off('SIGINT', listener);
  return provider;
}
