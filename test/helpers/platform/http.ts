// HTTP plumbing shared by the simulator's endpoints: one error type, one error handler, HTML helpers,
// and a listener on 127.0.0.1 that closes completely.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorRequestHandler, Express, Request } from 'express';

/**
 * An error an endpoint answers with. `json` errors follow RFC 6749 (`{ error, error_description }`),
 * `html` errors are a small page a person can read.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly format: 'json' | 'html';
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, description: string, options: { format?: 'json' | 'html'; headers?: Record<string, string> } = {}) {
    super(description);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.format = options.format ?? 'json';
    this.headers = options.headers ?? {};
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function page(title: string, bodyHtml: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${bodyHtml}</body></html>`;
}

/** The page an LMS answers to make the browser POST fields to another site (OIDC form_post). */
export function autoSubmitForm(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return page('Redirecting',
    `<form id="lti-form" action="${escapeHtml(action)}" method="post" enctype="application/x-www-form-urlencoded">${inputs}` +
    '<noscript><button type="submit">Continue</button></noscript></form>' +
    '<script>document.getElementById("lti-form").submit();</script>');
}

export const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  if (err instanceof HttpError) {
    res.status(err.status).set(err.headers).set('Cache-Control', 'no-store');
    if (err.format === 'html') {
      res.type('html').send(page(err.code, `<h1>${escapeHtml(err.code)}</h1><p>${escapeHtml(err.message)}</p>`));
    } else {
      res.json({ error: err.code, error_description: err.message });
    }
    return;
  }
  const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
  res.status(status).json({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: String(err) });
};

/** Request parameters from the query (GET) or a form/JSON body (POST), as plain strings. */
export function paramsOf(req: Request): Record<string, string> {
  const source: unknown = req.method === 'GET' || req.method === 'HEAD' ? req.query : req.body;
  const out: Record<string, string> = {};
  if (source && typeof source === 'object') {
    for (const [key, value] of Object.entries(source)) {
      if (typeof value === 'string') out[key] = value;
    }
  }
  return out;
}

export interface Listener {
  server: Server;
  baseUrl: string;
  close(): Promise<void>;
}

export async function listen(app: Express, hostname = '127.0.0.1'): Promise<Listener> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  server.keepAliveTimeout = 1_000;
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    server,
    baseUrl: `http://${hostname}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
