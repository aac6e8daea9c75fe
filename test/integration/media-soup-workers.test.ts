// One class over two mediasoup workers, in Chromium: past one worker's share of the node's viewers
// (maxSubscribers / workers), a room's next viewers are served by a router on the other worker,
// the presenter's tracks piped there (pipeToRouter); every viewer decodes the presenter's video.
// Then the other worker is killed: only its viewers are told their connection failed, and they
// connect again on the worker that replaced it; the presenter and the other viewers never notice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { MediasoupEngine, type FailureEvent, type WorkerExitEvent } from '../../server/media/index.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { ENGINES, mediasoupProblem } from '../helpers/media-engines.ts';
import { call, startMediaPageServer, type MediaPageServer } from '../helpers/media-page/server.ts';
import { until } from '../helpers/wait.ts';

const ROOM = 'big-lecture';

describe('mediasoup: one room over two workers', { skip: !ENGINES.includes('mediasoup') && `mediasoup's worker does not run here (${mediasoupProblem})` }, () => {
  let media: MediasoupEngine;
  let pageServer: MediaPageServer;
  let browser: Browser;
  const pages = new Map<string, Page>();
  const failures: FailureEvent[] = [];
  const exits: WorkerExitEvent[] = [];

  const page = async (userId: string) => {
    const p = await browser.context.newPage();
    await p.exposeFunction('signal', async (op: string, sdp?: string) => {
      if (op === 'publish') return media.publish(ROOM, userId, sdp ?? '');
      if (op === 'subscribe') return media.subscribe(ROOM, userId);
      if (op === 'answer') return media.acceptAnswer(ROOM, userId, sdp ?? '');
      throw new Error(op);
    });
    await p.goto(pageServer.url);
    pages.set(userId, p);
    return p;
  };
  const decoding = (userId: string) =>
    until(`video decoded by ${userId}`, async () => {
      const stats = await call<{ inbound: Array<{ kind: string; framesDecoded: number }> }>(pages.get(userId)!, 'subscriberStats');
      return (stats.inbound.find((s) => s.kind === 'video')?.framesDecoded ?? 0) > 5 ? true : undefined;
    }, 20_000);

  before(async () => {
    // Two workers, four viewers on the node: each worker's share is two.
    media = await MediasoupEngine.start({ workers: 2, maxSubscribers: 4, hostAddresses: ['127.0.0.1'] });
    media.on('failure', (event) => failures.push(event));
    media.on('worker-exit', (event) => exits.push(event));
    media.on('renegotiate', (event) => void call(pages.get(event.userId)!, 'onServerOffer', event.offerSdp).catch(() => {}));
    pageServer = await startMediaPageServer();
    browser = await startBrowser({ webrtcLoopback: true });
  });
  after(async () => {
    await browser?.close();
    await media?.close();
    await pageServer?.close();
  });

  it('serves a room’s viewers from both workers once one worker’s share is full', async (t) => {
    await call(await page('teacher'), 'startPublishing');
    for (const viewer of ['v1', 'v2', 'v3']) {
      await call(await page(viewer), 'startSubscribing');
      await decoding(viewer);
    }
    const workers = await media.workerStats();
    t.diagnostic(`workers: ${JSON.stringify(workers.map((w) => ({ worker: w.worker, routers: w.routers, connections: w.peers })))}`);
    // The teacher and two viewers on the first worker, the third viewer on the second.
    assert.deepEqual(workers.map((w) => w.peers).sort(), [1, 3]);
    assert.deepEqual(workers.map((w) => w.routers), [1, 1]);
    assert.deepEqual(failures, []);
  });

  it('tells only the viewers of a worker that dies, and they connect again on its replacement', async () => {
    const workers = await media.workerStats();
    const other = workers.find((w) => w.peers === 1)!;
    process.kill(other.pid!, 'SIGKILL');
    const exit = await until('the worker’s exit', () => exits[0]);
    assert.deepEqual(exit.rooms, [], 'the room’s home worker still runs: no recording is touched');
    await until('a failure for the viewer it served', () => (failures.length > 0 ? true : undefined));
    assert.deepEqual(failures.map((f) => [f.userId, f.role]), [['v3', 'subscriber']]);
    await until('the replacement worker', async () => ((await media.workerStats()).every((w) => w.running) ? true : undefined));
    // v3 makes a fresh receiving connection, as the widget does on media:failed.
    await call(pages.get('v3')!, 'startSubscribing');
    await decoding('v3');
    for (const viewer of ['v1', 'v2']) await decoding(viewer);
    assert.equal(media.stats().subscribers, 3);
  });
});
