// GET /metrics against a real tool in a real class: launches through the platform simulator, a
// host who starts the class and publishes Chromium's fake camera and microphone over the real
// socket.io signaling, a student whose receiving connection is a werift peer (LoadTestPeer). The
// exposition is scraped over HTTP and parsed. Then who may read it: METRICS_TOKEN, or the address.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import { isPrivateAddress } from '../../server/http/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { LoadTestPeer } from '../../server/media/loadtest-peer.ts';
import { Service } from '../../server/service.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { join as joinRoom } from '../helpers/interaction.ts';
import { call, startMediaPageServer, type MediaPageServer } from '../helpers/media-page/server.ts';
import { until } from '../helpers/wait.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments and blank lines skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `labels`; undefined if it has none. */
function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.length === 0 ? undefined : found.reduce((total, s) => total + s.value, 0);
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(`${url}/metrics`, { headers });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

type Reply = { ok: true; sdp: string; [key: string]: unknown } | { ok: false; error: string };

describe('metrics of a live class with real media', () => {
  let c: Classroom;
  let browser: Browser;
  let pageServer: MediaPageServer;
  let viewer: LoadTestPeer;
  const sockets: Socket[] = [];

  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_GRACE_SECONDS: '0' } });
    pageServer = await startMediaPageServer();
    browser = await startBrowser({ webrtcLoopback: true });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await viewer?.close();
    await browser?.close();
    await pageServer?.close();
    await c?.close();
  });

  const join = async (user: string, roles: 'instructor' | 'learner'): Promise<Socket> => {
    const { socket } = await joinRoom(c.platform, c.service, 'metrics', user, roles, { resourceLink: { id: 'metrics-room', title: 'Metrics' } });
    sockets.push(socket);
    return socket;
  };

  it('counts rooms, participants, forwarded RTP, access decisions and launches', async () => {
    const before = parse((await scrape(c.service.url)).text);
    assert.equal(sum(before, 'live_classroom_database_ready'), 1);
    assert.equal(sum(before, 'live_classroom_rtp_packets_forwarded_total'), 0);
    assert.ok(sum(before, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics are there');

    const host = await join('teacher', 'instructor');
    const student = await join('student', 'learner');
    // A role that gives no access (Mentor): refused at launch, counted as denied.
    const refused = await c.platform.launch({ user: { id: 'metrics-mentor', name: 'Mentor' }, roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor'], resourceLink: { id: 'metrics-room' } });
    assert.equal(refused.stage === 'launched' ? refused.response.status : refused.stage, 403);
    assert.equal((await request<Reply>(host, 'class:start', {})).ok, true);

    // The host publishes Chromium's fake camera and microphone through the real signaling.
    const teacherPage = await browser.context.newPage();
    await teacherPage.exposeFunction('signal', async (op: string, sdp?: string) => {
      assert.equal(op, 'publish');
      const reply = await request<Reply>(host, 'media:publish', { sdp, sources: {} });
      if (!reply.ok) throw new Error(reply.error);
      return reply.sdp;
    });
    await teacherPage.goto(pageServer.url);
    assert.deepEqual((await call<string[]>(teacherPage, 'startPublishing')).sort(), ['audio', 'video']);

    // The student receives with a werift peer, answering the first offer and any renegotiation.
    viewer = new LoadTestPeer({ hostAddresses: ['127.0.0.1'] });
    const answer = async (sdp: string) => {
      const reply = await request<{ ok: boolean; error?: string }>(student, 'media:answer', { sdp: await viewer.answer(sdp) });
      assert.ok(reply.ok, reply.error ?? 'the answer was refused');
    };
    student.on('media:offer', ({ sdp }: { sdp: string }) => void answer(sdp).catch(() => {}));
    const subscribed = await request<Reply>(student, 'media:subscribe', {});
    assert.ok(subscribed.ok, subscribed.ok ? '' : subscribed.error);
    await answer(subscribed.sdp);
    await viewer.connected();
    await until('video and audio reach the student', () => {
      const streams = viewer.stats().streams;
      return streams.some((s) => s.kind === 'video' && s.packets > 20) && streams.some((s) => s.kind === 'audio' && s.packets > 20);
    });

    const scraped = await scrape(c.service.url);
    assert.equal(scraped.status, 200);
    assert.match(scraped.type, /^text\/plain; version=0\.0\.4/);
    const m = parse(scraped.text);
    assert.ok((sum(m, 'live_classroom_rtp_packets_forwarded_total') ?? 0) > 0, 'packets forwarded');
    assert.ok((sum(m, 'live_classroom_rtp_bytes_forwarded_total') ?? 0) > (sum(m, 'live_classroom_rtp_packets_forwarded_total') ?? 0) * 12, 'bytes forwarded, headers and payload');
    assert.ok((sum(m, 'live_classroom_rtp_packets_received_total') ?? 0) > 0, 'packets received');
    assert.ok(sum(m, 'live_classroom_rtp_packets_lost_total', { seen_by: 'sfu' }) !== undefined, 'loss seen by the SFU is exposed');
    assert.ok(sum(m, 'live_classroom_rtp_packets_lost_total', { seen_by: 'subscriber' }) !== undefined, 'loss reported by subscribers is exposed');
    assert.ok((sum(m, 'live_classroom_rooms_live') ?? 0) >= 1, 'a room with media');
    assert.ok((sum(m, 'live_classroom_rooms_occupied') ?? 0) >= 1, 'a room with participants');
    assert.ok((sum(m, 'live_classroom_participants') ?? 0) >= 2, 'two participants');
    assert.equal(sum(m, 'live_classroom_participants', { grant: 'host' }), 1);
    assert.equal(sum(m, 'live_classroom_participants', { grant: 'attendee' }), 1);
    assert.equal(sum(m, 'live_classroom_media_publishers'), 1);
    assert.equal(sum(m, 'live_classroom_media_subscribers'), 1);
    assert.equal(sum(m, 'live_classroom_media_tracks'), 2);
    assert.equal(sum(m, 'live_classroom_recordings_running'), 0);
    assert.ok((sum(m, 'live_classroom_access_decisions_total', { outcome: 'host', trigger: 'launch' }) ?? 0) >= 1);
    assert.ok((sum(m, 'live_classroom_access_decisions_total', { outcome: 'host', trigger: 'join' }) ?? 0) >= 1);
    assert.ok((sum(m, 'live_classroom_access_decisions_total', { outcome: 'attendee', trigger: 'launch' }) ?? 0) >= 1);
    assert.ok((sum(m, 'live_classroom_access_decisions_total', { outcome: 'attendee', trigger: 'join' }) ?? 0) >= 1);
    assert.ok((sum(m, 'live_classroom_access_decisions_total', { outcome: 'denied', trigger: 'launch' }) ?? 0) >= 1);
    assert.ok((sum(m, 'live_classroom_launches_total', { outcome: 'ok' }) ?? 0) >= 2, 'two launches answered');
    assert.ok((sum(m, 'live_classroom_launches_total', { outcome: 'refused' }) ?? 0) >= 1, 'one launch refused');
    assert.ok((sum(m, 'live_classroom_launch_duration_seconds_count') ?? 0) >= 3, 'each launch timed');
    assert.ok((sum(m, 'live_classroom_launch_duration_seconds_bucket', { outcome: 'ok', le: '+Inf' }) ?? 0) >= 2);
    assert.ok((sum(m, 'live_classroom_launch_duration_seconds_sum') ?? 0) > 0);
  });
});

describe('who may read /metrics', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let c: Classroom;
  before(async () => {
    c = await startClassroom('moodle', { env: { METRICS_TOKEN: TOKEN } });
  });
  after(() => c?.close());

  it('asks for the bearer token when METRICS_TOKEN is set, from loopback too', async () => {
    const missing = await scrape(c.service.url);
    assert.equal(missing.status, 401);
    assert.match(missing.text, /Authorization: Bearer/);
    assert.equal((await scrape(c.service.url, { authorization: 'Bearer not-the-token-at-all-000000' })).status, 401);
    assert.equal((await scrape(c.service.url, { authorization: TOKEN })).status, 401);
    const good = await scrape(c.service.url, { authorization: `Bearer ${TOKEN}` });
    assert.equal(good.status, 200);
    assert.equal(sum(parse(good.text), 'live_classroom_database_ready'), 1);
  });

  it('without a token, serves loopback and private networks only', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.1.2.3', '172.16.0.9', '172.31.255.1', '192.168.1.20', '::ffff:10.0.0.7', 'fd12:3456::1', 'fc00::1']) {
      assert.equal(isPrivateAddress(address), true, address);
    }
    for (const address of [undefined, '', '8.8.8.8', '172.32.0.1', '192.169.0.1', '::ffff:8.8.8.8', '2001:db8::1', 'fe80::1', 'fd::1', 'not an address']) {
      assert.equal(isPrivateAddress(address), false, String(address));
    }
  });
});

describe('metrics before the database is ready', () => {
  it('answers with what is known and zero for the rest', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-metrics-'));
    // Nothing listens on port 9 (discard): the service keeps trying the database in the background.
    const settings = parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://lc:lc@127.0.0.1:9/none' });
    const service = await Service.start(settings, createLogger(settings.logLevel));
    try {
      const scraped = await scrape(service.url);
      assert.equal(scraped.status, 200);
      const m = parse(scraped.text);
      assert.equal(sum(m, 'live_classroom_database_ready'), 0);
      assert.equal(sum(m, 'live_classroom_participants'), 0);
      assert.equal(sum(m, 'live_classroom_rooms_live'), 0);
      assert.equal(sum(m, 'live_classroom_rtp_packets_forwarded_total'), 0);
      assert.equal(sum(m, 'live_classroom_launches_total'), 0);
      // Through a reverse proxy the connection is private whoever sent it: a forwarded request needs the token.
      const proxied = await fetch(`${service.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      assert.equal(proxied.status, 403);
      assert.match(((await proxied.json()) as { error: string }).error, /METRICS_TOKEN/);
    } finally {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
