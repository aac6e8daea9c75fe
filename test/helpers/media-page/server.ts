// Serves this folder's test page on 127.0.0.1 (a secure context, so getUserMedia works).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
};

export interface MediaPageServer {
  url: string;
  close(): Promise<void>;
}

export async function startMediaPageServer(): Promise<MediaPageServer> {
  const server: Server = createServer((request, response) => {
    const entry = FILES[new URL(request.url ?? '/', 'http://127.0.0.1').pathname];
    if (!entry) {
      response.writeHead(404).end();
      return;
    }
    const body = readFileSync(new URL(entry.file, import.meta.url));
    response.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Calls a function of the test page (page.js) in `page` and returns its result. */
export function call<T = void>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([fn, fnArgs]) => (globalThis as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[fn as string]!(...(fnArgs as unknown[])),
    [name, args] as const,
  );
}
