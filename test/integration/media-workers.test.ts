// Subscribers served by worker threads (MediaServerOptions.workers, MEDIA_WORKERS): a Chromium page
// publishes its fake camera and microphone on the main thread; synthetic subscribers (werift
// LoadTestPeer, in this process) are spread over two workers, each on its own share of the port
// range, and receive the publisher's RTP through them. The other media suites run over workers too
// when MEDIA_WORKERS=N is set in their environment (test/helpers/media-workers.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { LoadTestPeer } from '../../server/media/loadtest-peer.ts';
import { MediaServer } from '../../server/media/index.ts';
import { splitPorts } from '../../server/media/server.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { startMediaPageServer, type MediaPageServer } from '../helpers/media-page/server.ts';
import { until } from '../helpers/wait.ts';

const ROOM = 'course-201';
const RANGE: [number, number] = [47200, 47259];

function ports(sdp: string): number[] {
  return sdp
    .split(/\r?\n/)
    .filter((line) => line.startsWith('a=candidate:'))
    .map((line) => Number(line.split(' ')[5]));
}

describe('media: subscribers served by worker threads', () => {
  let media: MediaServer;
  let pageServer: MediaPageServer;
  let browser: Browser;
  let teacher: Page;
  const peers = new Map<string, LoadTestPeer>();
  const offerPorts = new Map<string, number[]>();
  const failures: unknown[] = [];

  async function subscribe(userId: string) {
    const peer = new LoadTestPeer({ hostAddresses: ['127.0.0.1'] });
    peers.set(userId, peer);
    const offer = await media.subscribe(ROOM, userId);
    offerPorts.set(userId, ports(offer));
    await media.acceptAnswer(ROOM, userId, await peer.answer(offer));
  }

  before(async () => {
    media = new MediaServer({ workers: 2, iceServers: [], hostAddresses: ['127.0.0.1'], portRange: RANGE });
    media.on('failure', (event) => failures.push(event.error));
    media.on('renegotiate', (event) => {
      const peer = peers.get(event.userId);
      if (!peer) return;
      if (ports(event.offerSdp).length > 0) offerPorts.set(event.userId, ports(event.offerSdp));
      peer
        .answer(event.offerSdp)
        .then((answer) => media.acceptAnswer(ROOM, event.userId, answer))
        .catch((error: unknown) => failures.push(error));
    });
    pageServer = await startMediaPageServer();
    browser = await startBrowser({ webrtcLoopback: true });
    teacher = await browser.context.newPage();
    await teacher.exposeFunction('signal', async (op: string, sdp?: string) => {
      if (op !== 'publish') throw new Error(`unexpected signal ${op}`);
      const answer = await media.publish(ROOM, 'teacher', sdp ?? '');
      offerPorts.set('teacher', ports(answer));
      return answer;
    });
    await teacher.goto(pageServer.url);
  });

  after(async () => {
    for (const peer of peers.values()) await peer.close();
    await browser?.close();
    await media?.close();
    await pageServer?.close();
  });

  it('cuts the port range into one share per thread, and refuses a range too small for them', () => {
    assert.deepEqual(splitPorts(RANGE, 3), [
      [47200, 47219],
      [47220, 47239],
      [47240, 47259],
    ]);
    assert.throws(() => new MediaServer({ workers: 2, portRange: [47000, 47004] }), RangeError);
    assert.throws(() => new MediaServer({ workers: 1.5 }), RangeError);
  });

  it('forwards the publisher’s audio and video to subscribers spread over two workers, each on its own ports', async () => {
    await subscribe('early'); // before anything is published: an offer without media, then a renegotiation
    await teacher.evaluate(() => (globalThis as unknown as { startPublishing: () => Promise<string[]> }).startPublishing());
    for (const userId of ['s1', 's2', 's3']) await subscribe(userId);

    for (const [userId, peer] of peers) {
      await until(`${userId} receives audio and video`, () => {
        const streams = peer.stats().streams;
        const video = streams.find((s) => s.kind === 'video');
        const audio = streams.find((s) => s.kind === 'audio');
        return video && audio && video.packets > 20 && audio.packets > 20 ? true : undefined;
      });
    }
    const teacherPorts = offerPorts.get('teacher')!;
    assert.ok(teacherPorts.length > 0 && teacherPorts.every((port) => port >= 47200 && port <= 47219), `publisher on the main thread's share: ${teacherPorts.join(', ')}`);
    const share = (port: number) => (port >= 47240 ? 2 : port >= 47220 ? 1 : 0);
    const shares = new Set<number>();
    for (const userId of ['early', 's1', 's2', 's3']) {
      const used = new Set(offerPorts.get(userId)!.map(share));
      assert.equal(used.size, 1, `${userId} on one worker's share: ${offerPorts.get(userId)!.join(', ')}`);
      assert.ok(!used.has(0), `${userId} not on the main thread's share`);
      shares.add([...used][0]!);
    }
    assert.deepEqual([...shares].sort(), [1, 2], 'both workers serve subscribers');

    const stats = media.stats();
    assert.equal(stats.subscribers, 4);
    assert.equal(stats.publishers, 1);
    assert.equal(stats.forwards, 8);
    assert.equal(stats.peers, 5);
    assert.ok(stats.keyframeRequests > 0, 'the workers asked the publisher for keyframes');
    // The workers report what they forwarded twice a second.
    await until('forwarded packets counted', () => (media.stats().packetsForwarded > stats.packetsReceived ? true : undefined));
    assert.deepEqual(failures, []);
  });

  it('closes a worker’s subscriber on leave(), serves one who joins after every other left, and closes the room when everyone has', async () => {
    await media.leave(ROOM, 's1');
    await peers.get('s1')!.close();
    let stats = media.stats();
    assert.equal(stats.subscribers, 3);
    assert.equal(stats.peers, 4);
    assert.equal(media.findRoom(ROOM)?.has('s1').subscriber, false);
    for (const userId of ['early', 's2', 's3']) await media.leave(ROOM, userId);
    assert.equal(media.stats().peers, 1, 'the publisher alone');
    // A subscriber joining a room every other subscriber has left (the publisher stayed).
    await subscribe('late');
    assert.equal(media.stats().peers, 2);
    await until('late receives video', () => ((peers.get('late')!.stats().streams.find((s) => s.kind === 'video')?.packets ?? 0) > 20 ? true : undefined));
    await media.unsubscribe(ROOM, 'late');
    await media.leave(ROOM, 'teacher');
    stats = media.stats();
    assert.equal(stats.peers, 0);
    assert.equal(stats.rooms, 0);
  });

  it('fails the subscribers of a worker that stops, and serves new ones from the other', async () => {
    const states: string[] = [];
    media.on('connection-state', (event) => states.push(`${event.userId}:${event.state}`));
    await media.subscribe('room-b', 'a'); // the first worker (both serve no one)
    await media.subscribe('room-b', 'b'); // the second
    // The server's own worker threads (private): stop the first, as a crash would.
    const pool = (media as unknown as { pool: { links: Array<{ worker: { terminate(): Promise<number> } }> } }).pool;
    await pool.links[0]!.worker.terminate();
    await until('a reported failed', () => (states.includes('a:failed') ? true : undefined));
    assert.equal(media.findRoom('room-b')?.has('a').subscriber, false);
    assert.equal(media.findRoom('room-b')?.has('b').subscriber, true);
    assert.ok(!states.includes('b:failed'));
    assert.match(await media.subscribe('room-b', 'c'), /^v=0/);
    assert.equal(media.stats().subscribers, 2);
    await assert.rejects(media.acceptAnswer('room-b', 'a', 'v=0\r\n'), { name: 'MediaError' });
    for (const userId of ['b', 'c']) await media.leave('room-b', userId);
    assert.equal(media.stats().peers, 0);
  });
});
