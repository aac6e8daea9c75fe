// The benchmark's one publisher: a Chromium page (test/helpers/browser.ts, fake camera and
// microphone) serving publisher.html on 127.0.0.1, signaling through a function the caller gives.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { startBrowser, type Browser } from '../../test/helpers/browser.ts';

export interface PublisherOptions {
  width: number;
  height: number;
  frameRate: number;
  /** Chromium's x-google-start-bitrate / x-google-max-bitrate on the answer, kbit/s (0: none). */
  startKbps: number;
  maxKbps: number;
  /** The SFU's answer to the page's offer. */
  publish(offerSdp: string): Promise<string>;
}

export interface OutboundStat {
  packetsSent: number;
  bytesSent: number;
  retransmittedPacketsSent: number;
  nackCount: number;
  frameWidth: number;
  frameHeight: number;
  framesPerSecond: number;
  targetBitrate: number;
  qualityLimitationReason: string;
}

export interface PublisherStats {
  at: number;
  connectionState: string;
  audio: OutboundStat | null;
  video: OutboundStat | null;
}

export interface Publisher {
  stats(): Promise<PublisherStats>;
  close(): Promise<void>;
}

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'publisher.html', type: 'text/html; charset=utf-8' },
  '/publisher.js': { file: 'publisher.js', type: 'text/javascript; charset=utf-8' },
};

function call<T>(page: Page, name: string, arg?: unknown): Promise<T> {
  return page.evaluate(([fn, value]) => (globalThis as unknown as Record<string, (v: unknown) => Promise<T>>)[fn as string]!(value), [name, arg] as const);
}

export async function startPublisher(options: PublisherOptions): Promise<Publisher> {
  const server = createServer((request, response) => {
    const entry = FILES[new URL(request.url ?? '/', 'http://127.0.0.1').pathname];
    if (!entry) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-store' }).end(readFileSync(new URL(entry.file, import.meta.url)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  let browser: Browser | undefined;
  try {
    browser = await startBrowser({ webrtcLoopback: true });
    const page = await browser.context.newPage();
    await page.exposeFunction('signal', (op: string, sdp: string) => {
      if (op !== 'publish') throw new Error(`unknown signal ${op}`);
      return options.publish(sdp);
    });
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const { width, height, frameRate, startKbps, maxKbps } = options;
    await call(page, 'startPublishing', { width, height, frameRate, startKbps, maxKbps });
    const opened = browser;
    return {
      stats: async () => ({ ...(await call<Omit<PublisherStats, 'at'>>(page, 'publisherStats')), at: performance.now() }),
      async close() {
        await call(page, 'stopPublishing').catch(() => {});
        await opened.close();
        await closeServer();
      },
    };
  } catch (error) {
    await browser?.close();
    await closeServer();
    throw error;
  }
}
