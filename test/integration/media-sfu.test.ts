// The SFU core with real browsers: one Chromium page publishes its fake camera and microphone
// through the WeriftEngine, another subscribes, and the subscriber's own getStats() shows decoded
// video frames and received audio. Signaling is direct calls (page.exposeFunction), all on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { LoadTestPeer } from '../../server/media/loadtest-peer.ts';
import { MediaError, WeriftEngine, type MediaEngine, type RenegotiateEvent } from '../../server/media/index.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { call, startMediaPageServer, type MediaPageServer } from '../helpers/media-page/server.ts';
import { ENGINES, startEngine } from '../helpers/media-engines.ts';
import { mediaWorkers } from '../helpers/media-workers.ts';
import { until } from '../helpers/wait.ts';

const ROOM = 'course-101';
const TEACHER = 'teacher-ada';
const STUDENT = 'student-bo';
/** Subscribes before anything is published: gets an offer with no media, then a renegotiation. */
const EARLY = 'student-early';

interface InboundStat {
  kind: 'audio' | 'video';
  mid: string;
  packetsReceived: number;
  framesDecoded: number;
  keyFramesDecoded: number;
  bytesReceived: number;
  /** The decoder's MIME type, e.g. video/H264. */
  codec?: string;
}
interface SubscriberStats {
  connectionState: string;
  inbound: InboundStat[];
  receiving: { mid: string; kind: string }[];
}

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase()).join(':');
/** A hand-made offer, varied by each case below into something wrong. */
const BAD_SDP =
  'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n' +
  `a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=fingerprint:sha-256 ${FINGERPRINT}\r\na=setup:actpass\r\n` +
  'a=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n';

for (const engine of ENGINES) describe(`media (${engine}): the SFU forwards a browser’s camera and microphone to another browser`, () => {
  /** werift: its subscriber threads as the environment asks; mediasoup: one worker. */
  const workers = engine === 'werift' ? mediaWorkers : 1;
  let media: MediaEngine;
  let pageServer: MediaPageServer;
  let browser: Browser;
  let teacher: Page;
  let student: Page;
  let early: Page;
  const renegotiations: RenegotiateEvent[] = [];
  const failures: unknown[] = [];

  const studentStats = (page = student) => call<SubscriberStats>(page, 'subscriberStats');

  /** Connects a page's window.signal(op, sdp) to the media server as `userId`. */
  const signalFor = (userId: string) => async (op: string, sdp?: string) => {
    if (op === 'publish') return media.publish(ROOM, userId, sdp ?? '');
    if (op === 'subscribe') return media.subscribe(ROOM, userId);
    if (op === 'answer') return media.acceptAnswer(ROOM, userId, sdp ?? '');
    throw new Error(`unknown signal ${op}`);
  };

  before(async () => {
    media = await startEngine(engine, { workers, iceServers: [], hostAddresses: ['127.0.0.1'], videoBitrate: { min: 50_000, max: 2_000_000 } });
    media.on('failure', (event) => failures.push(event.error));
    // The signaling layer's job: forward the server's new offer to the subscriber's browser.
    media.on('renegotiate', (event) => {
      renegotiations.push(event);
      const page = event.userId === STUDENT ? student : event.userId === EARLY ? early : undefined;
      if (!page) return;
      call(page, 'onServerOffer', event.offerSdp).catch((error: unknown) => failures.push(error));
    });
    pageServer = await startMediaPageServer();
    browser = await startBrowser({ webrtcLoopback: true });
    teacher = await browser.context.newPage();
    student = await browser.context.newPage();
    await teacher.exposeFunction('signal', signalFor(TEACHER));
    await student.exposeFunction('signal', signalFor(STUDENT));
    early = await browser.context.newPage();
    await early.exposeFunction('signal', signalFor(EARLY));
    for (const page of [teacher, student, early]) await page.goto(pageServer.url);
  });

  after(async () => {
    await browser?.close();
    await media?.close();
    await pageServer?.close();
  });

  it('refuses SDP that is not a usable offer with a MediaError, and keeps no peer for it', async () => {
    await assert.rejects(media.publish(ROOM, 'mallory', 'hello'), (error: unknown) => {
      assert.ok(error instanceof MediaError);
      assert.equal(error.code, 'invalid-sdp');
      assert.match(error.message, /v=0/);
      return true;
    });
    await assert.rejects(media.publish(ROOM, 'mallory', ''), { name: 'MediaError', code: 'invalid-sdp' });
    await assert.rejects(media.publish(ROOM, 'mallory', BAD_SDP.replace('a=fingerprint:sha-256 ' + FINGERPRINT, 'a=fingerprint:sha-256 nope')), {
      name: 'MediaError',
      code: 'invalid-sdp',
      message: /malformed DTLS fingerprint/,
    });
    // Passes the cheap checks, but the engine refuses it (a BUNDLE group naming m-lines that do not exist).
    await assert.rejects(media.publish(ROOM, 'mallory', BAD_SDP.replace('t=0 0\r\n', 't=0 0\r\na=group:BUNDLE 0 1\r\n').replace('a=mid:0\r\n', '')), (error: unknown) => {
      assert.ok(error instanceof MediaError, `expected a MediaError, got ${String(error)}`);
      assert.equal(error.code, 'invalid-sdp');
      assert.match(error.message, engine === 'werift' ? /publish offer was refused: ./ : /media section 1 has no mid/);
      return true;
    });
    // Well-formed, but nothing in it the server can receive (H.263 only).
    await assert.rejects(media.publish(ROOM, 'mallory', BAD_SDP.replace('VP8/90000', 'H263/90000')), { name: 'MediaError', code: 'invalid-sdp', message: /Opus audio or H264 or VP8 video/ });
    await assert.rejects(media.acceptAnswer(ROOM, 'nobody', BAD_SDP), { name: 'MediaError' });
    assert.equal(media.stats().peers, 0);
    assert.equal(media.stats().rooms, 0);
  });

  it('announces the configured public address and keeps ICE to the port range', async () => {
    const natted = await startEngine(engine, { workers, iceServers: [], hostAddresses: ['127.0.0.1'], announcedIp: '203.0.113.7', portRange: [47000, 47100] });
    try {
      const answer = await natted.publish('room', 'someone', await call<string>(teacher, 'makeOffer'));
      const candidates = answer.split(/\r?\n/).filter((line) => line.startsWith('a=candidate:'));
      const ports = candidates.map((line) => Number(line.split(' ')[5]));
      assert.ok(candidates.some((line) => line.includes(' 127.0.0.1 ')), answer);
      assert.ok(candidates.some((line) => line.includes(' 203.0.113.7 ')), answer);
      assert.ok(ports.every((port) => port >= 47000 && port <= 47100), `ports ${ports.join(', ')}`);
      await assert.rejects(startEngine(engine, { portRange: [5000, 5000] }), RangeError);
    } finally {
      await natted.close();
    }
    assert.equal(natted.stats().peers, 0);
  });

  it('delivers the publisher’s video (frames decoded, and growing) and audio (packets received) to subscribers', async (t) => {
    await call(early, 'startSubscribing');
    assert.equal(media.stats().subscribers, 1);
    const kinds = await call<string[]>(teacher, 'startPublishing');
    assert.deepEqual([...kinds].sort(), ['audio', 'video']);
    await until('the teacher’s two tracks on the server', () => (media.stats().tracks === 2 ? true : undefined));

    await call(student, 'startSubscribing');
    const first = await until('decoded video and received audio at the student', async () => {
      const stats = await studentStats();
      const video = stats.inbound.find((s) => s.kind === 'video');
      const audio = stats.inbound.find((s) => s.kind === 'audio');
      return video && video.framesDecoded > 0 && audio && audio.packetsReceived > 0 ? { video, audio } : undefined;
    });
    assert.ok(first.video.keyFramesDecoded > 0);
    // H.264 is preferred, so Chromium sends it and the student decodes it, as forwarded.
    assert.equal(first.video.codec, 'video/H264');
    assert.equal(first.audio.codec?.toLowerCase(), 'audio/opus');
    assert.deepEqual(media.findRoom(ROOM)?.tracks().map((t) => `${t.kind}:${t.codec}`).sort(), ['audio:opus', 'video:H264']);
    await until('more video frames decoded', async () => {
      const video = (await studentStats()).inbound.find((s) => s.kind === 'video');
      return video && video.framesDecoded > first.video.framesDecoded + 10 ? true : undefined;
    });
    await until('more audio packets', async () => {
      const audio = (await studentStats()).inbound.find((s) => s.kind === 'audio');
      return audio && audio.packetsReceived > first.audio.packetsReceived ? true : undefined;
    });

    await until('decoded video and received audio at the early student, after its renegotiation', async () => {
      const stats = await studentStats(early);
      const video = stats.inbound.find((s) => s.kind === 'video');
      const audio = stats.inbound.find((s) => s.kind === 'audio');
      return video && video.framesDecoded > 0 && audio && audio.packetsReceived > 0 ? true : undefined;
    });
    // mediasoup's packet counters are read from its workers when asked (readStats).
    const stats = await until('packets counted', async () => {
      const read = await media.readStats();
      return read.packetsForwarded > 0 ? read : undefined;
    });
    const seen = await studentStats();
    for (const s of seen.inbound) t.diagnostic(`student ${s.kind}: ${s.packetsReceived} packets, ${s.framesDecoded} frames decoded (${s.keyFramesDecoded} key), ${s.bytesReceived} bytes`);
    t.diagnostic(`server: ${JSON.stringify(stats)}`);
    assert.equal(stats.peers, 3);
    assert.equal(stats.publishers, 1);
    assert.equal(stats.subscribers, 2);
    assert.equal(stats.tracks, 2);
    assert.equal(stats.forwards, 4);
    assert.ok(stats.packetsForwarded > 0);
    assert.ok(stats.keyframeRequests > 0, 'a keyframe was requested for the new subscriber');
    const room = media.findRoom(ROOM);
    const tracks = room?.subscribedTracks(STUDENT) ?? [];
    assert.deepEqual(tracks.map((t) => `${t.userId}/${t.kind}`).sort(), [`${TEACHER}/audio`, `${TEACHER}/video`]);

    // Keyframe requests are rate-limited: a burst makes at most one now, and one (deferred) later.
    const video = tracks.find((t) => t.kind === 'video')!;
    const requestsBefore = media.stats().keyframeRequests;
    for (let i = 0; i < 50; i++) assert.equal(room!.requestKeyframe(video.id), true);
    assert.ok(media.stats().keyframeRequests - requestsBefore <= 1);
    await until('the burst’s keyframe request', () => (media.stats().keyframeRequests > requestsBefore ? true : undefined));
    assert.equal(room!.requestKeyframe(`${TEACHER}:nope`), false);
    assert.deepEqual(failures, []);
  });

  it('renegotiates the subscriber when the publisher adds, then removes, a screen track', async () => {
    const before = renegotiations.length;
    await call(teacher, 'startScreen');
    await until('a third track on the server', () => (media.stats().tracks === 3 ? true : undefined));
    await until('a renegotiation offer for the student', () => (renegotiations.slice(before).some((e) => e.userId === STUDENT && e.tracks.length === 3) ? true : undefined));
    await until('two decoding video streams at the student', async () => {
      const videos = (await studentStats()).inbound.filter((s) => s.kind === 'video' && s.framesDecoded > 0);
      return videos.length === 2 ? true : undefined;
    });
    assert.equal(media.stats().forwards, 6);

    const afterAdd = renegotiations.length;
    await call(teacher, 'stopScreen');
    await until('the screen track gone from the server', () => (media.stats().tracks === 2 ? true : undefined));
    await until('a renegotiation without the screen', () => (renegotiations.slice(afterAdd).some((e) => e.userId === STUDENT && e.tracks.length === 2) ? true : undefined));
    await until('the student receiving two tracks again', async () => ((await studentStats()).receiving.length === 2 ? true : undefined));
    assert.equal(media.stats().forwards, 4);
    assert.deepEqual(failures, []);
  });

  it('asks the publisher for no more video than its slowest receiver says it can take (REMB)', { skip: engine !== 'werift' && 'werift only: on mediasoup each receiver gets what its own link takes (transport-cc, simulcast layers)' }, async (t) => {
    const room = media.findRoom(ROOM) as ReturnType<WeriftEngine['findRoom']> & {};
    // The Chromium students report what they can receive; the request stays within the bounds.
    const firstAsk = await until('a bitrate asked of the teacher', () => room.requestedBitrate(TEACHER));
    assert.ok(firstAsk >= 50_000 && firstAsk <= 2_000_000, `asked ${firstAsk}`);
    const target = async () => (await call<Array<{ targetBitrate: number }>>(teacher, 'publisherStats'))[0]?.targetBitrate ?? 0;
    const before = await target();

    // A receiver on a slow link (a werift peer sending REMB as a browser does): 100 kbit/s.
    const slow = new LoadTestPeer({ hostAddresses: ['127.0.0.1'] });
    try {
      await media.acceptAnswer(ROOM, 'slow-student', await slow.answer(await media.subscribe(ROOM, 'slow-student')));
      await slow.connected();
      await until('video at the slow receiver', () => (slow.stats().streams.some((s) => s.kind === 'video' && s.packets > 0) ? true : undefined));
      const timer = setInterval(() => void slow.sendEstimate(100_000).catch(() => {}), 500);
      try {
        await until('the teacher asked for 100 kbit/s', () => (room.requestedBitrate(TEACHER) === 100_000 ? true : undefined));
        // Chromium's encoder follows the REMB it is sent.
        const capped = await until('the teacher’s encoder at or under 100 kbit/s', async () => {
          const now = await target();
          return now > 0 && now <= 100_000 ? now : undefined;
        });
        t.diagnostic(`teacher's video target: ${before} bit/s with Chromium receivers (asked ${firstAsk}), ${capped} bit/s once a receiver said 100 kbit/s`);
        // Below the floor, the floor wins: one bad link does not bring the class to a halt.
        clearInterval(timer);
        const floorTimer = setInterval(() => void slow.sendEstimate(10_000).catch(() => {}), 500);
        try {
          await until('the teacher asked for the 50 kbit/s floor', () => (room.requestedBitrate(TEACHER) === 50_000 ? true : undefined));
        } finally {
          clearInterval(floorTimer);
        }
      } finally {
        clearInterval(timer);
      }
    } finally {
      await slow.close();
      await media.leave(ROOM, 'slow-student');
    }
    // Once it is gone its estimate no longer counts; how fast the Chromium receivers' own estimates
    // climb back is Chromium's business (about 8%/s), so it is not timed here.
    assert.equal(media.findRoom(ROOM)?.subscribedTracks('slow-student').length, 0);
    assert.deepEqual(failures, []);
  });

  it('gives a browser that cannot decode H.264 the audio without the video; the others go on', async () => {
    const refusals: unknown[] = [];
    media.on('codec-refused', (event) => refusals.push(event));
    const noH264 = await browser.context.newPage();
    await noH264.exposeFunction('signal', signalFor('student-no-h264'));
    await noH264.goto(pageServer.url);
    try {
      await noH264.evaluate('window.cannotDecode = ["video/H264"]');
      await call(noH264, 'startSubscribing');
      await until('audio at the browser without H.264', async () => ((await studentStats(noH264)).inbound.some((s) => s.kind === 'audio' && s.packetsReceived > 0) ? true : undefined));
      const stats = await studentStats(noH264);
      assert.deepEqual(stats.receiving.map((r) => r.kind), ['audio']);
      const video = media.findRoom(ROOM)!.tracks().find((t) => t.kind === 'video')!;
      assert.deepEqual(refusals, [{ roomId: ROOM, userId: 'student-no-h264', trackId: video.id, codec: 'H264' }]);
      assert.deepEqual(media.findRoom(ROOM)!.subscribedTracks('student-no-h264').map((t) => t.kind), ['audio']);
      // The other student still decodes the video.
      const before = (await studentStats()).inbound.find((s) => s.kind === 'video')!.framesDecoded;
      await until('more frames at the student', async () => ((await studentStats()).inbound.find((s) => s.kind === 'video')!.framesDecoded > before ? true : undefined));
      assert.deepEqual(failures, []);
    } finally {
      await media.leave(ROOM, 'student-no-h264');
      await noH264.close();
    }
  });

  it('forwards VP8 when the server puts VP8 first', async () => {
    const vp8 = await startEngine(engine, { workers, iceServers: [], hostAddresses: ['127.0.0.1'], videoCodecs: ['VP8', 'H264'] });
    const pages = [await browser.context.newPage(), await browser.context.newPage()] as const;
    try {
      const signal = (userId: string) => async (op: string, sdp?: string) => (op === 'publish' ? vp8.publish('vp8', userId, sdp ?? '') : op === 'subscribe' ? vp8.subscribe('vp8', userId) : vp8.acceptAnswer('vp8', userId, sdp ?? ''));
      await pages[0].exposeFunction('signal', signal('vp8-teacher'));
      await pages[1].exposeFunction('signal', signal('vp8-student'));
      for (const page of pages) await page.goto(pageServer.url);
      await call(pages[0], 'startPublishing');
      await call(pages[1], 'startSubscribing');
      const video = await until('decoded video at the VP8 student', async () => (await studentStats(pages[1])).inbound.find((s) => s.kind === 'video' && s.framesDecoded > 0));
      assert.equal(video.codec, 'video/VP8');
      assert.equal(vp8.findRoom('vp8')?.tracks().find((t) => t.kind === 'video')?.codec, 'VP8');
      await assert.rejects(startEngine(engine, { videoCodecs: [] }), RangeError);
    } finally {
      for (const page of pages) await page.close();
      await vp8.close();
    }
  });

  it('closes peers on leave() and on close(), leaving nothing behind', async () => {
    const before = renegotiations.length;
    await media.leave(ROOM, TEACHER);
    let stats = media.stats();
    assert.equal(stats.publishers, 0);
    assert.equal(stats.tracks, 0);
    assert.equal(stats.forwards, 0);
    assert.equal(stats.peers, 2, 'only the students’ subscriptions are left');
    // The student is told its tracks are gone.
    await until('a renegotiation with no tracks', () => (renegotiations.slice(before).some((e) => e.userId === STUDENT && e.tracks.length === 0) ? true : undefined));

    await media.leave(ROOM, STUDENT);
    await media.leave(ROOM, EARLY);
    stats = media.stats();
    assert.equal(stats.peers, 0);
    assert.equal(stats.rooms, 0);

    // A fresh subscription elsewhere, then close(): no peer survives.
    const offer = await media.subscribe('course-102', 'late-student');
    assert.match(offer, /^v=0/);
    await media.publish('course-102', 'late-teacher', await call<string>(teacher, 'makeOffer')).catch(() => {});
    assert.ok(media.stats().peers >= 1);
    const closing = media.close();
    await media.close(); // a second call waits for the first
    stats = media.stats();
    assert.equal(stats.peers, 0);
    assert.equal(stats.rooms, 0);
    if (media instanceof WeriftEngine) assert.ok(media.workerStats().every((worker) => !worker.running), 'no worker thread left running');
    else assert.deepEqual((await (media as import('../../server/media/index.ts').MediasoupEngine).workerStats()).map((w) => w.running), [false], 'no worker process left running');
    await closing;
    await media.close();
    await assert.rejects(async () => media.subscribe('course-103', 'someone'), { name: 'MediaError', code: 'closed' });
  });
});
