// LTI 1.3: ltijs behind a small interface. Built in two steps, each a complete object: `Lti.create`
// (ltijs, its store, the registry of platforms, the LMS services the access rules read), then
// `lti.routes({ admit })` (the /lti router, whose launches go to the server's launch use case).
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Settings } from '../config/index.ts';
import type { Orm } from '../server/db/index.ts';
import type { Logger } from '../server/logger/index.ts';
import { ClientState, jwtPayload } from './client-state.ts';
import { deepLinking } from './deep-linking.ts';
import { KeySets } from './key-sets.ts';
import { checkLogin, formReader, guard, guardLtijsAnswers, plainRequest } from './lti-input.ts';
import { useKeySets } from './ltijs-patches.ts';
import { explainRefusal } from './refusals.ts';
import { launchHandler, type AdmitLaunch } from './launch.ts';
import { timeLaunches, type LaunchObserver } from './launch-timing.ts';
import { LtiServices } from './services.ts';
import { problemPage } from './pages.ts';
import { PlatformRegistry } from './platforms.ts';
import { registrationHandler } from './registration.ts';
import { cookiePolicy, createProvider, handleMessages, type LtijsProvider, type LtijsToken } from './provider.ts';
import { LtiStore, withoutLtikSession } from './store.ts';

const MESSAGE_TYPE = 'https://purl.imsglobal.org/spec/lti/claim/message_type';

export type { RegisteredPlatform } from './platforms.ts';
export { createAdminApi } from './admin-api.ts';
export { removeAdminToken, writeAdminToken } from './admin-token.ts';
export { resolveLtiKey } from './key.ts';
export type { PlatformRegistration } from './provider.ts';
export type { AdmitLaunch } from './launch.ts';
export type { LaunchObserver } from './launch-timing.ts';
export { LtiServices, NRPS_MAX_MEMBERS, NRPS_PAGE_SIZE } from './services.ts';

export interface LtiDependencies {
  settings: Settings;
  orm: Orm;
  logger: Logger;
  /** LTI_KEY (resolveLtiKey): encrypts what ltijs stores and signs its cookies. */
  key: string;
}

export interface LtiRoutes {
  /** The launch use case (server/launch). */
  admit: AdmitLaunch;
  /** Told how each POST /lti/launch ended and how long it took (the metrics). */
  onLaunch?: LaunchObserver;
}

export class Lti {
  readonly platforms: PlatformRegistry;
  /** NRPS and AGS for the access rules. */
  readonly services: LtiServices;
  /** The LMSs' signing keys, kept between launches. */
  readonly keySets: KeySets;
  readonly #provider: LtijsProvider;
  readonly #store: LtiStore;
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #key: string;

  private constructor(provider: LtijsProvider, store: LtiStore, { settings, logger, key }: LtiDependencies) {
    this.#provider = provider;
    this.#store = store;
    this.#settings = settings;
    this.#logger = logger;
    this.#key = key;
    this.platforms = new PlatformRegistry(provider, store);
    this.services = new LtiServices(provider, store, logger.child({ part: 'services' }));
    this.keySets = new KeySets(logger.child({ part: 'key-sets' }));
    useKeySets(store, this.keySets);
  }

  static async create(deps: LtiDependencies): Promise<Lti> {
    const { settings, orm, logger, key } = deps;
    const store = new LtiStore(orm);
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
    return new Lti(provider, store, deps);
  }

  /** The /lti router: logins, launches (answered through `admit`), deep linking, registration, the key set. */
  routes({ admit, onLaunch }: LtiRoutes): RequestHandler {
    const provider = this.#provider;
    const settings = this.#settings;
    const logger = this.#logger;
    const platforms = this.platforms;
    const placement = deepLinking({
      launchUrl: `${settings.publicUrl}/lti/launch`,
      submitPath: 'deep-link',
      logger,
      signResponse: (token: LtijsToken, items, options) => provider.DeepLinking.createDeepLinkingMessage(token, items, options),
    });
    handleMessages(provider, { onLaunch: launchHandler({ platforms, logger, admit }), onDeepLinking: placement.onRequest });
    provider.app.post('/deep-link', (req, res, next) => placement.onSubmit(req, res).catch(next));

    const clientState = new ClientState(this.#store, cookiePolicy(settings.publicUrl), this.#key, logger);
    /** A request refused before ltijs: a warning, as for any launch refused. */
    const refused = (req: Request, status: number, why: string) => logger.warn({ path: req.path, status }, `LTI request refused: ${why}`);
    const router = express.Router();
    const assets = express.static(fileURLToPath(new URL('./assets/', import.meta.url)), { index: false, fallthrough: false, maxAge: '1h' });
    router.use('/assets', (req, res, next) => {
      if (req.method === 'GET' || req.method === 'HEAD') return assets(req, res, next);
      res.status(405).set('Allow', 'GET, HEAD').type('html').send(problemPage('Not here', 'This address serves the launch pages\' scripts; it only answers GET.'));
    });
    // ltijs runs its own express 4 app, which swaps the request's prototype and with it express 5's
    // `query` getter: pin the parsed query on the request itself before handing it over.
    router.use((req, _res, next) => {
      Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
      next();
    });
    if (onLaunch) router.post('/launch', timeLaunches(onLaunch));
    // Nothing reaches ltijs without a body it can read: a form of strings, or an empty object.
    router.post(['/login', '/launch', '/deep-link'], formReader(refused));
    router.use(plainRequest(refused));
    router.all('/login', guard((req) => checkLogin(req.query, req.body), refused));
    // Moodle fetches the launch URL from its own server when an activity is saved (is it a
    // cartridge?), and people open it by hand: no LTI message, nothing to refuse or to log.
    router.get('/launch', (req, res, next) => {
      if (req.query.ltik !== undefined || req.get('authorization') !== undefined) return next();
      logger.debug({ agent: req.get('user-agent') }, 'launch address fetched without a launch');
      res.status(200).type('html').set('Cache-Control', 'no-store').send(
        problemPage('Live Classroom', 'This is the address LMSs launch Live Classroom at. Open the live class from your course page.'),
      );
    });
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
    router.get('/register', registrationHandler({ publicUrl: settings.publicUrl, autoActivate: settings.ltiAutoActivate, privateHosts: settings.ltiRegistrationPrivateHosts, platforms, logger }));
    router.all('/register', (_req, res) => {
      res.status(405).set('Allow', 'GET').type('html').send(problemPage('Not a registration request', 'The LMS opens this address (GET) with an openid_configuration parameter.'));
    });
    router.use((req, res, next) => {
      guardLtijsAnswers(res, (status, detail) => logger.error({ path: req.path, status, detail }, 'ltijs answered with a failure'));
      // A resource-link launch never comes back with its ltik (the class page carries a seat token):
      // ltijs need not keep its claims for one. The message type is read unverified here; ltijs
      // verifies the token, and a forged one is refused whether its claims were kept or not.
      const idToken = req.method === 'POST' && req.path === '/launch' ? (req.body as Record<string, string>).id_token : undefined;
      const resourceLink = idToken !== undefined && jwtPayload(idToken)?.[MESSAGE_TYPE] === 'LtiResourceLinkRequest';
      if (resourceLink) withoutLtikSession(() => provider.app(req, res, next));
      else provider.app(req, res, next);
    });
    // A failure inside a launch (ours or ltijs'): logged, and answered as a page in neutral words.
    const failed: ErrorRequestHandler = (error, req, res, next) => {
      const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 600 ? (error.status as number) : 500;
      if (status < 500) logger.warn({ path: req.path, status, reason: (error as Error).message }, 'LTI request refused');
      else logger.error({ err: error, path: req.path }, 'LTI request failed');
      if (res.headersSent) return next(error);
      res.status(status).type('html').set('Cache-Control', 'no-store').send(
        status >= 500
          ? problemPage('Live Classroom could not finish this', 'Something went wrong on our side; it has been logged. Try again in a moment.')
          : problemPage('This request could not be read', 'Live Classroom could not use this request. Open the activity again from the course page.'),
      );
    };
    router.use(failed);
    return router as RequestHandler;
  }

  async close(): Promise<void> {
    await this.#store.Close();
  }
}
