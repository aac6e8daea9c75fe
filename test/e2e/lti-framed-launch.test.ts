// Launches framed in the LMS course page, in Chromium, with third-party cookies blocked as Safari
// blocks them: the platform (on localhost) and the tool (on 127.0.0.1) are different sites.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { introduce } from '../helpers/classroom.ts';
import { Platform } from '../helpers/platform/index.ts';

const FRAME = 'iframe#lti-tool-frame';

describe('a launch framed in the course page, third-party cookies blocked', () => {
  let dataDir: string;
  let service: Service;
  let browser: Browser;
  const platforms: Platform[] = [];

  const platformFor = async (flavor: 'moodle' | 'canvas') => {
    const platform = await Platform.start({ flavor, hostname: 'localhost' });
    platforms.push(platform);
    await introduce(service, platform);
    return platform;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-framed-'));
    service = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
    browser = await startBrowser({ blockThirdPartyCookies: true });
  });
  after(async () => {
    await browser?.close();
    for (const platform of platforms) await platform.close();
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** What each window of the course page was asked over postMessage, by subject. */
  const asked = async (page: Page) => {
    const out: Record<string, Record<string, number>> = {};
    for (const frame of page.frames()) {
      if (!frame.url().includes('/__sim/')) continue;
      out[frame === page.mainFrame() ? 'page' : frame.name()] = ((await frame.evaluate('({ ...(window.__ltiMessages || {}) })')) as Record<string, number>);
    }
    return out;
  };

  for (const [flavor, target, answersCapabilities] of [
    ['moodle', '_parent', true],
    ['canvas', 'post_message_forwarding', true],
    ['canvas', 'post_message_forwarding', false],
  ] as const) {
    it(`reaches the class page through ${flavor}'s platform storage (lti_storage_target=${target}${answersCapabilities ? '' : ', lti.capabilities unanswered'})`, async () => {
      const platform = await platformFor(flavor);
      const page = await browser.context.newPage();
      const launchPosts: string[] = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url() === `${service.url}/lti/launch`) launchPosts.push(request.postData() ?? '');
      });
      try {
        await page.goto(platform.coursePageUrl({ roles: 'instructor', user: { id: `t-${flavor}-${answersCapabilities}`, name: 'Ada Teacher' }, storageTarget: target, answersCapabilities }));
        const widget = page.frameLocator(FRAME).locator('live-classroom');
        await widget.waitFor({ timeout: 20_000 });
        const token = await widget.getAttribute('seat-token');
        const seat = service.seats.verify(token ?? '');
        assert.equal(seat.role, 'host');
        assert.equal(seat.name, 'Ada Teacher');
        // The browser did not send the state cookie (blocked), so the launch went through platform
        // storage: the platform's post, then ours with the value read back from storage.
        assert.equal(launchPosts.length, 2, launchPosts.join('\n'));
        assert.match(launchPosts[1] ?? '', /lc_client_state=[\w-]{20,}/);
        // The tool asked the platform where its storage is, then stored and read once each, in the
        // frame the platform named; without an answer it fell back to lti_storage_target.
        const messages = await asked(page);
        const storage = messages[target === '_parent' ? 'page' : target] ?? {};
        assert.equal(messages.page?.['lti.capabilities'], 2, JSON.stringify(messages));
        if (answersCapabilities) {
          assert.equal(storage['lti.put_data'], 1, `put_data sent more than once: ${JSON.stringify(messages)}`);
          assert.equal(storage['lti.get_data'], 1, `get_data sent more than once: ${JSON.stringify(messages)}`);
        } else {
          assert.ok((storage['lti.put_data'] ?? 0) >= 1 && (storage['lti.get_data'] ?? 0) >= 1, JSON.stringify(messages));
        }
      } finally {
        await page.close();
      }
    });
  }

  it('offers a new window when the platform has no storage, and the launch completes there', async () => {
    const platform = await platformFor('moodle');
    const page = await browser.context.newPage();
    try {
      await page.goto(platform.coursePageUrl({ roles: 'learner', user: { id: 'student-nw', name: 'Bo Student' }, storageTarget: '' }));
      const frame = page.frameLocator(FRAME);
      const open = frame.getByRole('link', { name: 'Open in a new window' });
      await open.waitFor({ timeout: 20_000 });
      assert.match(await frame.locator('body').innerText(), /blocks cookies in embedded pages/);
      const [popup] = await Promise.all([page.waitForEvent('popup'), open.click()]);
      const widget = popup.locator('live-classroom');
      await widget.waitFor({ timeout: 20_000 });
      const seat = service.seats.verify((await widget.getAttribute('seat-token')) ?? '');
      assert.equal(seat.role, 'attendee');
      assert.equal(seat.name, 'Bo Student');
      await popup.close();
    } finally {
      await page.close();
    }
  });
});

// Control: the same framed launch when the browser keeps the tool's cookies (tool and LMS on one
// site, so the cookies are first-party): the cookie check passes and no new window is offered.
describe('a launch framed in a course page of the same site', () => {
  let dataDir: string;
  let service: Service;
  let browser: Browser;
  let platform: Platform;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-framed-'));
    service = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
    browser = await startBrowser({ blockThirdPartyCookies: true });
    platform = await Platform.start({ flavor: 'moodle', hostname: '127.0.0.1' });
    await introduce(service, platform);
  });
  after(async () => {
    await browser?.close();
    await platform?.close();
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('goes straight to the class page in the frame when the platform has no storage', async () => {
    const page = await browser.context.newPage();
    const launchPosts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url() === `${service.url}/lti/launch`) launchPosts.push(request.postData() ?? '');
    });
    try {
      await page.goto(platform.coursePageUrl({ roles: 'learner', user: { id: 'student-ok', name: 'Cy Student' }, storageTarget: '' }));
      const widget = page.frameLocator(FRAME).locator('live-classroom');
      await widget.waitFor({ timeout: 20_000 });
      assert.equal(service.seats.verify((await widget.getAttribute('seat-token')) ?? '').role, 'attendee');
      assert.equal(launchPosts.length, 1, 'one launch post: the state came back in its cookie');
    } finally {
      await page.close();
    }
  });
});
