// The express app, built without listening so tests and main.ts can own the listener.
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../logger/index.ts';
import { HttpError } from './errors.ts';
import { metricsHandler, type MetricsEndpoint } from './metrics.ts';
import { serveWidget } from './widget.ts';

const HLS_JS = fileURLToPath(import.meta.resolve('hls.js/dist/hls.mjs'));

export interface Readiness {
  /** Resolves when the tool can serve users; rejects with the reason it cannot. */
  check(): Promise<void>;
}

export interface AppDependencies {
  logger: Logger;
  readiness: Readiness;
  /** The LTI routes, once the database they keep their state in is ready. */
  lti: () => RequestHandler | undefined;
  /** The admin API (`npm run platform` talks to it), served only with the embedded database. */
  admin?: () => RequestHandler | undefined;
  /** The hosts' API (room settings, refusals), once the database is ready. */
  api?: () => RequestHandler | undefined;
  /** Recordings (HLS playlists and segments behind signed links), once the database is ready. */
  vod?: () => RequestHandler | undefined;
  /** Prometheus metrics, served before the database is ready too. */
  metrics?: MetricsEndpoint;
}

/** Why the tool is not ready, in a few words: starting, shutting down, or its database. */
function readinessReason(error: unknown): string {
  const name = (error as Error)?.name;
  const message = (error as Error)?.message ?? '';
  if (/shutting down/i.test(message)) return 'shutting down';
  if (name === 'ServiceUnavailableError' && /connecting|not connected yet/i.test(message)) return 'starting: waiting for the database';
  return 'the database does not answer';
}

/** What a refusal that is not ours (a body parser's, a router's) says. */
function plainRefusal(status: number): string {
  switch (status) {
    case 400:
      return 'The request could not be read.';
    case 413:
      return 'The request is too large.';
    case 415:
      return 'The request body is not of a type this address reads.';
    default:
      return `The request was refused (HTTP ${status}).`;
  }
}

export function createApp({ logger, readiness, lti, admin, api, vod, metrics }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'strict-origin-when-cross-origin');
    next();
  });

  // Liveness: the process answers. Never touches the database.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Readiness: the database answers; a load balancer sends users here only when this says 200.
  app.get('/readyz', async (_req, res) => {
    try {
      await readiness.check();
      res.json({ status: 'ready' });
    } catch (error) {
      // The reason names what is missing, never how to reach it (a host, a port, a query): that goes to the log.
      logger.debug({ err: error }, 'not ready');
      res.status(503).json({ status: 'unavailable', reason: error instanceof HttpError ? error.message : readinessReason(error) });
    }
  });

  if (metrics) app.get('/metrics', metricsHandler(metrics));

  app.use('/lti', (req, res, next) => {
    const router = lti();
    if (router === undefined) return next(new HttpError(503, 'Live Classroom is starting; try again in a moment.'));
    router(req, res, next);
  });

  app.get('/widget/live-classroom.js', (req, res, next) => {
    serveWidget(req, res).catch(next);
  });

  // hls.js, fetched by the widget only when a recording is opened in a browser without native HLS.
  app.get('/widget/hls.js', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('text/javascript').sendFile(HLS_JS);
  });

  app.use('/vod', (req, res, next) => {
    const router = vod?.();
    if (router === undefined) return next(new HttpError(503, 'Live Classroom is starting; try again in a moment.'));
    router(req, res, next);
  });

  app.use('/api', (req, res, next) => {
    const router = api?.();
    if (router === undefined) return next(new HttpError(503, 'Live Classroom is starting; try again in a moment.'));
    router(req, res, next);
  });

  app.use('/admin/api', (req, res, next) => {
    const router = admin?.();
    if (router === undefined) return next();
    res.setHeader('Cache-Control', 'no-store');
    router(req, res, next);
  });

  app.use((req, _res, next) => {
    next(new HttpError(404, `Nothing here: ${req.method} ${req.path}`));
  });

  // The one place an error becomes an HTTP answer: our own refusals (HttpError) say what they say;
  // anything else says only what kind of failure it was (a parser's or a library's message may quote
  // the input or the query), and a failure on our side is logged.
  const handleError: ErrorRequestHandler = (error, req, res, _next) => {
    const given = error instanceof HttpError ? error.status : typeof error?.status === 'number' ? (error.status as number) : 500;
    const status = given >= 400 && given < 600 ? given : 500;
    if (status >= 500) logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return;
    const message = error instanceof HttpError ? error.message : status >= 500 ? 'Something went wrong on our side; it has been logged.' : plainRefusal(status);
    res.status(status).set('Cache-Control', 'no-store').json({ error: message });
  };
  app.use(handleError);
  return app;
}
