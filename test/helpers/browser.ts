// Debian's Chromium, driven by playwright-core: headless, a fresh profile each time, fake camera
// and microphone. `blockThirdPartyCookies` makes it behave like Safari's default for framed pages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface BrowserOptions {
  blockThirdPartyCookies?: boolean;
  /** WebRTC to a server on 127.0.0.1: loopback host candidates, without mDNS names; media plays without a gesture. */
  webrtcLoopback?: boolean;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function startBrowser(options: BrowserOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'lc-chromium-'));
  const args = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
  ];
  if (options.blockThirdPartyCookies) args.push('--test-third-party-cookie-phaseout');
  if (options.webrtcLoopback) {
    args.push('--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required');
  }
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args, timeout: 30_000 });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
