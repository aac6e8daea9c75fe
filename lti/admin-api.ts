// The running tool's admin API for platforms, mounted by the service at /admin/api. `npm run platform`
// uses it when the tool holds the embedded database (which only one process may open). Every request
// carries `Authorization: Bearer <DATA_DIR/admin.token>`.
import express, { type ErrorRequestHandler, type Router } from 'express';
import { z } from 'zod';
import { tokensMatch } from './admin-token.ts';
import { DeploymentIdRequiredError, PlatformNotFoundError, type PlatformAdmin } from './platforms.ts';

export const httpUrl = z
  .string()
  .trim()
  .max(2048)
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value) && URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), 'expected an http:// or https:// URL');
const nonEmpty = z
  .string()
  .trim()
  .min(1)
  .max(1000)
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'holds a control character');

const platformBody = z.object({
  platform: z.object({
    name: nonEmpty,
    issuer: httpUrl,
    clientId: nonEmpty,
    authUrl: httpUrl,
    tokenUrl: httpUrl,
    jwksUrl: httpUrl,
  }),
  deploymentIds: z.array(nonEmpty).min(1),
});
const platformKey = z.object({ issuer: nonEmpty, clientId: nonEmpty });
const activateBody = platformKey.extend({ deploymentIds: z.array(nonEmpty).default([]) });

class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ApiError(400, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

export function createAdminApi(platforms: PlatformAdmin, token: string): Router {
  const router = express.Router();
  router.use((req, res, next) => {
    const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (tokensMatch(given, token)) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="live-classroom-admin"');
    res.status(401).json({ error: 'The admin token (DATA_DIR/admin.token) is missing or wrong.' });
  });
  router.use(express.json({ limit: '100kb' }));

  router.get('/platforms', async (_req, res) => {
    res.json({ platforms: await platforms.list() });
  });
  router.post('/platforms', async (req, res) => {
    const { platform, deploymentIds } = parse(platformBody, req.body);
    res.json({ platform: await platforms.add(platform, deploymentIds) });
  });
  router.post('/platforms/activate', async (req, res) => {
    const { issuer, clientId, deploymentIds } = parse(activateBody, req.body);
    res.json({ platform: await platforms.activate(issuer, clientId, deploymentIds) });
  });
  router.delete('/platforms', async (req, res) => {
    const { issuer, clientId } = parse(platformKey, req.query);
    res.json({ removed: await platforms.remove(issuer, clientId) });
  });

  const handleError: ErrorRequestHandler = (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    if (error instanceof ApiError) return res.status(error.status).json({ error: error.message });
    if (error instanceof PlatformNotFoundError) return res.status(404).json({ error: error.message });
    if (error instanceof DeploymentIdRequiredError) return res.status(409).json({ error: error.message });
    if (error?.type === 'entity.parse.failed') return res.status(400).json({ error: 'The body is not valid JSON.' });
    next(error);
  };
  router.use(handleError);
  return router;
}
