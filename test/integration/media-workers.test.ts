// Subscribers served by worker threads (MediaServerOptions.workers, MEDIA_WORKERS): a Chromium page
// publishes its fake camera and microphone on the main thread; synthetic subscribers (werift
// LoadTestPeer, in this process) are spread over two workers, each on its own share of the port
// range, and receive the publisher's RTP through them. The other media suites run over workers too
// when MEDIA_WORKERS=N is set in their environment (test/helpers/media-workers.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { LoadTestPeer, type LoadTestPeerOptions } from '../../server/media/loadtest-peer.ts';
import { WeriftEngine, type WorkerExitEvent } from '../../server/media/index.ts';
import { splitPorts } from '../../server/media/server.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { call, startMediaPageServer, type MediaPageServer } from '../helpers/media-page/server.ts';
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
  let media: WeriftEngine;
  let pageServer: MediaPageServer;
  let browser: Browser;
  let teacher: Page;
  const peers = new Map<string, LoadTestPeer>();
  const offerPorts = new Map<string, number[]>();
  const failures: unknown[] = [];

  async function subscribe(userId: string, options: LoadTestPeerOptions = {}) {
    const peer = new LoadTestPeer({ hostAddresses: ['127.0.0.1'], ...options });
    peers.set(userId, peer);
    const offer = await media.subscribe(ROOM, userId);
    offerPorts.set(userId, ports(offer));
    await media.acceptAnswer(ROOM, userId, await peer.answer(offer));
  }

  /** The user leaves, and its peer closes. */
  async function drop(userId: string) {
    await media.leave(ROOM, userId);
    await peers.get(userId)?.close();
  }

  /** The user's receiving connection closes (the user stays, as a publisher does). */
  async function unsubscribe(userId: string) {
    await media.unsubscribe(ROOM, userId);
    await peers.get(userId)?.close();
  }

  /** A fresh receiving connection, as the widget opens on media:failed. */
  async function resubscribe(userId: string) {
    await unsubscribe(userId);
    await subscribe(userId);
  }

  /** Packets of that kind the user's peer has received. */
  function received(userId: string, kind: 'audio' | 'video'): number {
    return (peers.get(userId)?.stats().streams ?? []).filter((s) => s.kind === kind).reduce((sum, s) => sum + s.packets, 0);
  }

  before(async () => {
    media = new WeriftEngine({ workers: 2, iceServers: [], hostAddresses: ['127.0.0.1'], portRange: RANGE });
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
    assert.throws(() => new WeriftEngine({ workers: 2, portRange: [47000, 47004] }), RangeError);
    assert.throws(() => new WeriftEngine({ workers: 1.5 }), RangeError);
  });

  it('forwards the publisher’s audio and video to subscribers spread over two workers, each on its own ports', async () => {
    await subscribe('early'); // before anything is published: an offer without media, then a renegotiation
    await call<string[]>(teacher, 'startPublishing');
    for (const userId of ['s1', 's2', 's3']) await subscribe(userId);

    for (const userId of peers.keys()) await until(`${userId} receives audio and video`, () => received(userId, 'video') > 20 && received(userId, 'audio') > 20);
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
    await drop('s1');
    let stats = media.stats();
    assert.equal(stats.subscribers, 3);
    assert.equal(stats.peers, 4);
    assert.equal(media.findRoom(ROOM)?.has('s1').subscriber, false);
    for (const userId of ['early', 's2', 's3']) await drop(userId);
    assert.equal(media.stats().peers, 1, 'the publisher alone');
    // A subscriber joining a room every other subscriber has left (the publisher stayed).
    await subscribe('late');
    assert.equal(media.stats().peers, 2);
    await until('late receives video', () => received('late', 'video') > 20);
    await unsubscribe('late');
    await media.leave(ROOM, 'teacher');
    stats = media.stats();
    assert.equal(stats.peers, 0);
    assert.equal(stats.rooms, 0);
  });

  it('posts a track’s packets only to the workers that have a subscriber of it, and PLIs still reach the publisher', async () => {
    // Both workers serve no one now (everyone left in the previous test); the teacher publishes again.
    await call<string[]>(teacher, 'startPublishing');
    await until('the teacher’s tracks', () => (media.findRoom(ROOM)?.tracks().length === 2 ? true : undefined));
    const tracks = media.findRoom(ROOM)!.tracks();
    const video = tracks.find((track) => track.kind === 'video')!;
    const audio = tracks.find((track) => track.kind === 'audio')!;
    await subscribe('s1'); // worker 0
    await subscribe('teacher'); // worker 1: the teacher's own receiving connection, with nothing in it (the teacher publishes every track)
    await subscribe('s2'); // worker 0 (1 and 1: the first)
    assert.deepEqual(media.workerStats().map((w) => w.subscribers), [2, 1]);
    for (const userId of ['s1', 's2']) assert.ok(offerPorts.get(userId)!.every((port) => port >= 47220 && port <= 47239), `${userId} on worker 0's ports`);
    for (const userId of ['s1', 's2']) await until(`${userId} receives video`, () => received(userId, 'video') > 20);

    // Worker 1 serves the room but no subscriber of the teacher's tracks: it is sent none of their packets.
    let before = media.workerStats();
    assert.deepEqual(before[1]!.tracks, []);
    assert.deepEqual([...before[0]!.tracks].sort(), [audio.id, video.id].sort());
    await sleep(1000);
    let after = media.workerStats();
    assert.deepEqual(after[1]!.packetsRelayed, before[1]!.packetsRelayed, 'worker 1 was sent no packet');
    assert.ok(after[0]!.packetsRelayed.video > before[0]!.packetsRelayed.video + 5, 'worker 0 was sent video');
    assert.ok(after[0]!.packetsRelayed.audio > before[0]!.packetsRelayed.audio + 5, 'worker 0 was sent audio');

    // A subscriber on worker 1: it is sent both tracks from then on, and its keyframe requests reach the publisher.
    const plis = media.stats().keyframeRequests;
    await subscribe('s3');
    assert.deepEqual(media.workerStats().map((w) => w.subscribers), [2, 2]);
    assert.ok(offerPorts.get('s3')!.every((port) => port >= 47240), `s3 on worker 1's ports: ${offerPorts.get('s3')!.join(', ')}`);
    await until('s3 receives audio and video', () => received('s3', 'video') > 20 && received('s3', 'audio') > 20);
    after = media.workerStats();
    assert.deepEqual([...after[1]!.tracks].sort(), [audio.id, video.id].sort());
    assert.ok(after[1]!.packetsRelayed.video > before[1]!.packetsRelayed.video + 20, 'worker 1 is sent video');
    assert.ok(media.stats().keyframeRequests > plis, 'worker 1 asked the publisher for a keyframe');

    // Its last subscriber of the tracks leaves: nothing more goes to worker 1.
    await drop('s3');
    before = media.workerStats();
    assert.deepEqual(before[1]!.tracks, []);
    await sleep(500);
    assert.deepEqual(media.workerStats()[1]!.packetsRelayed, before[1]!.packetsRelayed, 'worker 1 was sent nothing after s3 left');

    // A subscriber whose answer refuses the video (no decoder for its codec): worker 1 is sent the audio only.
    const refused: string[] = [];
    const onRefused = (event: { userId: string; trackId: string }) => refused.push(`${event.userId}:${event.trackId}`);
    media.on('codec-refused', onRefused);
    await subscribe('s4', { videoCodecs: video.codec === 'VP8' ? ['H264'] : ['VP8'] });
    media.off('codec-refused', onRefused);
    assert.deepEqual(refused, [`s4:${video.id}`]);
    assert.deepEqual(media.workerStats()[1]!.tracks, [audio.id]);
    await until('s4 receives audio', () => received('s4', 'audio') > 20);
    after = media.workerStats();
    assert.equal(after[1]!.packetsRelayed.video, before[1]!.packetsRelayed.video, 'worker 1 was sent no video');
    assert.ok(after[1]!.packetsRelayed.audio > before[1]!.packetsRelayed.audio + 20);
    assert.equal(received('s4', 'video'), 0);

    for (const userId of ['s1', 's2', 's4']) await drop(userId);
    await unsubscribe('teacher');
    assert.deepEqual(media.workerStats().map((w) => [w.subscribers, w.tracks.length]), [[0, 0], [0, 0]]);
    assert.equal(media.stats().peers, 1, 'the publisher alone');
  });

  it('replaces a worker that stops: its subscribers are told, nothing goes to it any more, and new ones are served by a fresh thread', async () => {
    const states: string[] = [];
    const failed: string[] = [];
    const exits: WorkerExitEvent[] = [];
    media.on('connection-state', (event) => states.push(`${event.userId}:${event.state}`));
    media.on('failure', (event) => failed.push(`${event.userId}:${event.role}:${event.error.code}`));
    media.on('worker-exit', (event) => exits.push(event));
    for (const userId of ['a', 'b', 'c']) await subscribe(userId); // workers 0, 1, 0
    // After a's and c's worker stops, the fresh one (no subscribers) takes both again: 2 and 1.
    for (const userId of ['a', 'b', 'c']) await until(`${userId} receives video`, () => received(userId, 'video') > 20);
    const old = media.workerStats();
    assert.deepEqual(old.map((w) => w.subscribers), [2, 1]);

    // The server's own worker threads (private): stop the first, as a crash would.
    const links = (media as unknown as { pool: { links: Array<{ worker: Worker; relayed: Record<string, number> }> } }).pool.links;
    const dead = links[0]!;
    await dead.worker.terminate();
    await until('a and c reported failed', () => states.includes('a:failed') && states.includes('c:failed'));
    assert.deepEqual(failed.sort(), ['a:subscriber:closed', 'c:subscriber:closed']);
    assert.ok(!states.includes('b:failed'));
    assert.equal(exits.length, 1);
    assert.deepEqual({ ...exits[0], threadId: undefined }, { worker: 0, threadId: undefined, exitCode: 1, subscribers: 2, rooms: [], restartInMs: 0 });
    assert.equal(exits[0]!.threadId, old[0]!.threadId);

    let workers = media.workerStats();
    assert.notEqual(workers[0]!.threadId, old[0]!.threadId, 'a fresh thread in slot 0');
    assert.deepEqual(workers.map((w) => [w.running, w.subscribers, w.tracks.length]), [[true, 0, 0], [true, 1, 2]]);
    let stats = media.stats();
    assert.deepEqual([stats.subscribers, stats.forwards, stats.peers], [1, 2, 2]);
    assert.equal(media.findRoom(ROOM)?.has('a').subscriber, false);
    const deadRelayed = { ...dead.relayed };
    const bBefore = received('b', 'video');
    await until('b still receives video', () => received('b', 'video') > bBefore + 10);

    // The pages reconnect (a fresh receiving connection, as the widget does on media:failed): the fresh worker serves them.
    for (const userId of ['a', 'c']) await resubscribe(userId);
    for (const userId of ['a', 'c']) await until(`${userId} receives audio and video again`, () => received(userId, 'video') > 20 && received(userId, 'audio') > 20);
    assert.ok(offerPorts.get('a')!.every((port) => port >= 47220 && port <= 47239), `a on slot 0's ports again: ${offerPorts.get('a')!.join(', ')}`);
    workers = media.workerStats();
    assert.deepEqual(workers.map((w) => w.subscribers), [2, 1]);
    assert.equal(workers[0]!.tracks.length, 2);
    assert.ok(workers[0]!.packetsRelayed.video > 20, 'the fresh thread is sent video');
    stats = media.stats();
    assert.deepEqual([stats.subscribers, stats.forwards, stats.peers], [3, 6, 4]);
    assert.deepEqual(dead.relayed, deadRelayed, 'nothing was queued for the stopped thread');

    // A thread that throws (an uncaught error in its message handler) is replaced the same way.
    const crashed = links[1]!;
    crashed.worker.postMessage({ kind: 'rtp', meta: null, data: null });
    await until('the second worker’s exit', () => exits.length === 2);
    assert.equal(exits[1]!.worker, 1);
    assert.equal(exits[1]!.exitCode, 1);
    assert.match(exits[1]!.error ?? '', /null|undefined/);
    assert.equal(exits[1]!.subscribers, 1);
    await until('b reported failed', () => states.includes('b:failed'));
    workers = media.workerStats();
    assert.deepEqual(workers.map((w) => [w.running, w.subscribers]), [[true, 2], [true, 0]]);
    assert.notEqual(workers[1]!.threadId, exits[1]!.threadId);
    await resubscribe('b');
    await until('b receives video from the fresh worker 1', () => received('b', 'video') > 20);
    assert.deepEqual(media.workerStats().map((w) => w.subscribers), [2, 1]);

    // A slot whose threads keep stopping soon after they start waits before the next one; meanwhile no one is sent there.
    for (let i = 0; i < 2 && exits.at(-1)!.restartInMs === 0; i++) {
      await links[1]!.worker.terminate();
      await until('an exit', () => exits.length === 3 + i);
    }
    const last = exits.at(-1)!;
    assert.ok(last.restartInMs >= 1000, `a delayed restart (${last.restartInMs} ms)`);
    assert.equal(media.workerStats()[1]!.running, false);
    await subscribe('d');
    assert.deepEqual(media.workerStats().map((w) => w.subscribers), [3, 0], 'd went to the running worker');
    await until('slot 1 running again', () => media.workerStats()[1]!.running, last.restartInMs + 5000);

    for (const userId of ['a', 'b', 'c', 'd']) await drop(userId);
    await media.leave(ROOM, 'teacher');
    stats = media.stats();
    assert.deepEqual([stats.peers, stats.rooms, stats.subscribers], [0, 0, 0]);
  });
});
