// The widget as one ES module: widget/live-classroom.ts bundled by esbuild (Lit and the socket.io
// client included) once per process, kept in memory, served with an ETag.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Request, Response } from 'express';

const ENTRY = fileURLToPath(new URL('../../widget/live-classroom.ts', import.meta.url));

export interface WidgetBundle {
  code: string;
  etag: string;
}

let bundling: Promise<WidgetBundle> | undefined;

export function widgetBundle(): Promise<WidgetBundle> {
  bundling ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox111', 'safari16'],
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  }).then((result) => {
    const code = result.outputFiles[0]?.text ?? '';
    return { code, etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 27)}"` };
  });
  bundling.catch(() => {
    bundling = undefined;
  });
  return bundling;
}

export async function serveWidget(req: Request, res: Response): Promise<void> {
  const bundle = await widgetBundle();
  res.setHeader('ETag', bundle.etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (req.get('if-none-match') === bundle.etag) {
    res.status(304).end();
    return;
  }
  res.type('text/javascript').send(bundle.code);
}
