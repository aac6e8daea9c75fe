// LTI 1.3: ltijs behind a small interface. The service mounts `router` at /lti.
import type { Request, RequestHandler, Response } from 'express';
import type { Settings } from '../config/index.ts';
import type { Repositories, Orm } from '../server/db/index.ts';
import type { Logger } from '../server/logger.ts';
import { resolveLtiKey } from './key.ts';
import { launchHandler } from './launch.ts';
import { problemPage } from './pages.ts';
import { PlatformRegistry } from './platforms.ts';
import { createProvider } from './provider.ts';
import { SeatTokens } from './seat-token.ts';
import { LtiStore } from './store.ts';

export { SeatTokenError, SeatTokens } from './seat-token.ts';
export type { Seat } from './seat-token.ts';
export type { RegisteredPlatform } from './platforms.ts';
export type { PlatformRegistration } from './provider.ts';

export interface LtiDependencies {
  settings: Settings;
  orm: Orm;
  repositories: () => Repositories;
  logger: Logger;
}

export class Lti {
  readonly router: RequestHandler;
  readonly platforms: PlatformRegistry;
  readonly seats: SeatTokens;
  readonly #store: LtiStore;

  private constructor(router: RequestHandler, platforms: PlatformRegistry, seats: SeatTokens, store: LtiStore) {
    this.router = router;
    this.platforms = platforms;
    this.seats = seats;
    this.#store = store;
  }

  static async create({ settings, orm, repositories, logger }: LtiDependencies): Promise<Lti> {
    const { key, source } = resolveLtiKey(settings.ltiKey, settings.dataDir);
    logger.info(`LTI key from ${source}`);
    const store = new LtiStore(orm);
    const seats = new SeatTokens(key);
    let handleLaunch: ReturnType<typeof launchHandler> | undefined;
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
      onDeepLinking: (_token, _req, res: Response) =>
        res.status(501).type('html').send(problemPage('Not available yet', 'Placing a live class with Deep Linking is not built yet.')),
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
        res
          .status(401)
          .type('html')
          .send(problemPage('This launch could not be verified', `The LMS's launch was refused (${details?.message ?? 'invalid token'}). Open the activity again from the course page.`));
      },
    });
    const platforms = new PlatformRegistry(provider, store);
    handleLaunch = launchHandler({ repositories, platforms, seats, logger });
    // ltijs runs its own express 4 app, which swaps the request's prototype and with it express 5's
    // `query` getter: pin the parsed query on the request itself before handing it over.
    const router: RequestHandler = (req, res, next) => {
      Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
      provider.app(req, res, next);
    };
    return new Lti(router, platforms, seats, store);
  }

  async close(): Promise<void> {
    await this.#store.Close();
  }
}
