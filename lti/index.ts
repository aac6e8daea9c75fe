// LTI 1.3: ltijs behind a small interface. The service mounts `router` at /lti.
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Settings } from '../config/index.ts';
import type { Repositories, Orm } from '../server/db/index.ts';
import type { Logger } from '../server/logger.ts';
import { ClientState } from './client-state.ts';
import { deepLinking } from './deep-linking.ts';
import { resolveLtiKey } from './key.ts';
import { explainRefusal } from './refusals.ts';
import { launchHandler, type DecideAccess } from './launch.ts';
import { timeLaunches, type LaunchObserver } from './launch-timing.ts';
import { LtiServices } from './services.ts';
import { problemPage } from './pages.ts';
import { PlatformRegistry } from './platforms.ts';
import { registrationHandler } from './registration.ts';
import { cookiePolicy, createProvider, type LtijsToken } from './provider.ts';
import { SeatTokens } from './seat-token.ts';
import { LtiStore } from './store.ts';

export { SeatTokenError, SeatTokens } from './seat-token.ts';
export type { Seat } from './seat-token.ts';
export type { RegisteredPlatform } from './platforms.ts';
export { createAdminApi } from './admin-api.ts';
export { removeAdminToken, writeAdminToken } from './admin-token.ts';
export type { PlatformRegistration } from './provider.ts';
export type { DecideAccess, LaunchDecision } from './launch.ts';
export type { LaunchObserver, LaunchOutcome } from './launch-timing.ts';
export { LtiServices, NRPS_MAX_MEMBERS, NRPS_PAGE_SIZE } from './services.ts';

export interface LtiDependencies {
  settings: Settings;
  orm: Orm;
  repositories: () => Repositories;
  logger: Logger;
  /** The access rules' answer for a launch (server/access). */
  decide: DecideAccess;
  /** Told how each POST /lti/launch ended and how long it took (the metrics). */
  onLaunch?: LaunchObserver;
}

export class Lti {
  readonly router: RequestHandler;
  readonly platforms: PlatformRegistry;
  readonly seats: SeatTokens;
  /** NRPS and AGS for the access rules. */
  readonly services: LtiServices;
  readonly #store: LtiStore;

  private constructor(router: RequestHandler, platforms: PlatformRegistry, seats: SeatTokens, services: LtiServices, store: LtiStore) {
    this.router = router;
    this.platforms = platforms;
    this.seats = seats;
    this.services = services;
    this.#store = store;
  }

  static async create({ settings, orm, repositories, logger, decide, onLaunch }: LtiDependencies): Promise<Lti> {
    const { key, source } = resolveLtiKey(settings.ltiKey, settings.dataDir);
    logger.info(`LTI key from ${source}`);
    const store = new LtiStore(orm);
    const seats = new SeatTokens(key);
    let handleLaunch: ReturnType<typeof launchHandler> | undefined;
    let placement: ReturnType<typeof deepLinking> | undefined;
    /** A login refused because of the platform itself: say which LMS, and what the admin should do. */
    const refusePlatform = (status: number, title: string, explain: (issuer: string) => string) => (req: Request, res: Response) => {
      const issuer = String(req.query.iss ?? req.body?.iss ?? 'this LMS');
      logger.warn({ issuer, status }, `login refused: ${title}`);
      res.status(status).type('html').send(problemPage(title, explain(issuer)));
    };
    const provider = await createProvider({
      key,
      store,
      publicUrl: settings.publicUrl,
      logger,
      onLaunch: (token, req, res) => handleLaunch?.(token, req, res),
      onDeepLinking: (token, req, res) => placement?.onRequest(token, req, res),
      onUnknownPlatform: refusePlatform(
        400,
        'This LMS is not registered',
        (issuer) => `${issuer} is not registered with Live Classroom. An administrator registers it once with: npm run platform -- add ...`,
      ),
      onInactivePlatform: refusePlatform(
        401,
        'This LMS is awaiting activation',
        (issuer) => `${issuer} registered itself with Live Classroom; an administrator must activate it (npm run platform -- activate) before launches work.`,
      ),
      onInvalidToken: (req: Request, res: Response) => {
        const details = (res.locals.err as { details?: { message?: string } } | undefined)?.details;
        logger.warn({ path: req.path, reason: details?.message }, 'launch refused: invalid token');
        const refusal = explainRefusal(details?.message, req.body);
        res.status(refusal.status).type('html').send(problemPage(refusal.title, refusal.explanation));
      },
    });
    const platforms = new PlatformRegistry(provider, store);
    handleLaunch = launchHandler({ repositories, platforms, seats, logger, decide });
    const services = new LtiServices(provider, store, logger.child({ part: 'services' }));
    placement = deepLinking({
      launchUrl: `${settings.publicUrl}/lti/launch`,
      submitPath: 'deep-link',
      logger,
      signResponse: (token: LtijsToken, items, options) => provider.DeepLinking.createDeepLinkingMessage(token, items, options),
    });
    const submitPlacement = placement.onSubmit;
    provider.app.post('/deep-link', (req, res, next) => submitPlacement(req, res).catch(next));

    const clientState = new ClientState(store, cookiePolicy(settings.publicUrl), key, logger);
    const router = express.Router();
    router.use('/assets', express.static(fileURLToPath(new URL('./assets/', import.meta.url)), { index: false, fallthrough: false, maxAge: '1h' }));
    // ltijs runs its own express 4 app, which swaps the request's prototype and with it express 5's
    // `query` getter: pin the parsed query on the request itself before handing it over.
    router.use((req, _res, next) => {
      Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
      next();
    });
    if (onLaunch) router.post('/launch', timeLaunches(onLaunch));
    router.post(['/login', '/launch', '/deep-link'], (req, res, next) => clientState.parseBody(req, res, next));
    router.all('/login', (req, res, next) => {
      // ltijs ends a good login with res.redirect(platform's OIDC endpoint); decide how to get there.
      const target = res as unknown as { redirect: (url: string) => void };
      target.redirect = (url: string) => {
        const redirect = (to: string) => (Object.getPrototypeOf(res) as { redirect: (this: Response, u: string) => void }).redirect.call(res, to);
        clientState.login(req, res, url, redirect).catch(next);
      };
      next();
    });
    router.post('/launch', (req: Request, res: Response, next: NextFunction) => {
      clientState.launch(req, res, next).catch(next);
    });
    router.get('/register', registrationHandler({ publicUrl: settings.publicUrl, autoActivate: settings.ltiAutoActivate, platforms, logger }));
    router.use((req, res, next) => provider.app(req, res, next));
    return new Lti(router as RequestHandler, platforms, seats, services, store);
  }

  async close(): Promise<void> {
    await this.#store.Close();
  }
}
