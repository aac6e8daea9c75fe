// Debian's Chromium, driven by playwright-core: headless, a fresh profile each time, fake camera
// and microphone. `blockThirdPartyCookies` makes it behave like Safari's default for framed pages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Frame, type FrameLocator, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface BrowserOptions {
  blockThirdPartyCookies?: boolean;
  /** WebRTC to a server on 127.0.0.1: loopback host candidates, without mDNS names; media plays without a gesture. */
  webrtcLoopback?: boolean;
  /** Another Chromium launcher, e.g. one that starts it in a network namespace (test/helpers/netns.ts). */
  executable?: string;
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
  // Cross-site frames stay in the page's process: with site isolation, the tool frame's swaps
  // between processes (tool, platform, tool again during a launch) made Playwright lose the frame
  // on a loaded machine (1 run in 3 with both cores busy). Cookies and postMessage origins are
  // still cross-site; the launch tests check that the state cookie was refused.
  if (options.blockThirdPartyCookies) args.push('--test-third-party-cookie-phaseout', '--disable-site-isolation-trials');
  if (options.webrtcLoopback) {
    args.push('--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required');
  }
  const context = await chromium.launchPersistentContext(profile, { executablePath: options.executable ?? CHROMIUM, headless: true, args, timeout: 30_000 });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The LMS course page's iframe that holds the tool (test/helpers/platform/course-page.ts). */
export const TOOL_FRAME = 'iframe#lti-tool-frame';

export interface CoursePageSeat {
  page: Page;
  /** The tool's frame, for evaluate(). */
  frame: Frame;
  /** The same frame as a locator root, for role queries that follow re-renders. */
  widget: FrameLocator;
}

/** Opens a course page URL in a new tab and waits until the widget in its tool frame is connected. */
export async function openCoursePage(browser: Browser, url: string, viewport?: { width: number; height: number }): Promise<CoursePageSeat> {
  const page = await browser.context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  await page.goto(url);
  const widget = page.frameLocator(TOOL_FRAME);
  await widget.locator('live-classroom [data-connection="connected"]').waitFor({ timeout: 20_000 });
  const frame = await (await page.locator(TOOL_FRAME).elementHandle())?.contentFrame();
  if (!frame) throw new Error('the course page has no tool frame');
  return { page, frame, widget };
}
