// The express app, built without listening so tests and main.ts can own the listener.
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../logger.ts';
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
      res.status(503).json({ status: 'unavailable', reason: (error as Error).message });
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

  const handleError: ErrorRequestHandler = (error, req, res, _next) => {
    const status = error instanceof HttpError ? error.status : typeof error?.status === 'number' ? error.status : 500;
    if (status >= 500) logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return;
    const message = status >= 500 ? 'Something went wrong on our side; it has been logged.' : (error as Error).message;
    res.status(status).json({ error: message });
  };
  app.use(handleError);
  return app;
}
