// A thousand join/leave cycles on each SFU engine (werift: a hundred in CI, see CYCLES), straight through its API: each cycle a presenter
// publishes camera and microphone (a hand-made offer, as a browser's), a viewer subscribes (so a
// consumer of each track is made), and both leave before connecting. Afterwards nothing is left:
// the engine's rooms, connections, tracks and forwards are back to zero, the process's UDP sockets
// and timers to their baseline, and on mediasoup the workers' own objects (routers, transports,
// producers, consumers, each answering requests) to theirs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MediasoupEngine } from '../../server/media/index.ts';
import { ENGINES, startEngine } from '../helpers/media-engines.ts';
import { until } from '../helpers/wait.ts';

/**
 * Cycles per engine. werift makes a certificate and gathers ICE for each connection in JavaScript
 * (about 0.3 s of CPU a cycle here), so CI runs 100 of its cycles; LC_TEST_CYCLES=1000 runs the
 * full thousand on both (about 6 minutes for werift on 2 cores).
 */
const CYCLES: Record<string, number> = process.env.LC_TEST_CYCLES ? { mediasoup: Number(process.env.LC_TEST_CYCLES), werift: Number(process.env.LC_TEST_CYCLES) } : { mediasoup: 1000, werift: 100 };

function offer(n: number): string {
  const fingerprint = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  const common = ['c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass', 'a=rtcp-mux'];
  return [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=msid-semantic: WMS s',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', ...common, 'a=mid:0', 'a=sendonly', 'a=msid:s mic', 'a=rtpmap:111 opus/48000/2', `a=ssrc:${1000 + 2 * n} cname:s`,
    'm=video 9 UDP/TLS/RTP/SAVPF 96', ...common, 'a=mid:1', 'a=sendonly', 'a=msid:s cam', 'a=rtpmap:96 VP8/90000', `a=ssrc:${1001 + 2 * n} cname:s`,
    '',
  ].join('\r\n');
}

function handles(): { udp: number; timers: number } {
  const names = process.getActiveResourcesInfo();
  return { udp: names.filter((n) => n === 'UDPWrap').length, timers: names.filter((n) => n === 'Timeout').length };
}

for (const engine of ENGINES) {
  const cycles = CYCLES[engine]!;
  describe(`media (${engine}): ${cycles} join/leave cycles`, () => {
    it('leave no room, connection, track, forward, socket or worker object behind', async (t) => {
      const media = await startEngine(engine, { hostAddresses: ['127.0.0.1'], connectTimeoutMs: 60_000 });
      try {
        const workerObjects = async () => (media instanceof MediasoupEngine ? media.workerResources() : undefined);
        const baseline = { handles: handles(), worker: await workerObjects() };
        const started = Date.now();
        let peak = 0;
        let busiest = { routers: 0, objects: 0 };
        // Ten cycles at a time (each its own presenter and viewer): werift spends most of a
        // connection's set-up waiting on its ICE gathering, not on the CPU.
        const cycle = async (i: number) => {
          const room = `room-${i % 7}`;
          await media.publish(room, `presenter-${i}`, offer(i));
          const viewerOffer = await media.subscribe(room, `viewer-${i}`);
          assert.ok((viewerOffer.match(/^m=/gm) ?? []).length >= 2, 'the viewer is offered the presenter\'s two tracks');
          peak = Math.max(peak, media.stats().forwards);
          if (i % 100 === 0) {
            const held = await workerObjects();
            if (held && held.objects > busiest.objects) busiest = held;
          }
          await media.leave(room, `viewer-${i}`);
          await media.leave(room, `presenter-${i}`);
        };
        for (let i = 0; i < cycles; i += 10) await Promise.all(Array.from({ length: Math.min(10, cycles - i) }, (_, k) => cycle(i + k)));
        const seconds = (Date.now() - started) / 1000;
        const stats = media.stats();
        assert.deepEqual({ rooms: stats.rooms, peers: stats.peers, publishers: stats.publishers, subscribers: stats.subscribers, tracks: stats.tracks, forwards: stats.forwards }, { rooms: 0, peers: 0, publishers: 0, subscribers: 0, tracks: 0, forwards: 0 });
        assert.ok(peak >= 2, 'viewers had forwards of the presenters\' tracks');
        const after = await until(`UDP sockets and timers back to ${JSON.stringify(baseline.handles)}`, () => {
          const now = handles();
          return now.udp <= baseline.handles.udp && now.timers <= baseline.handles.timers + 2 ? now : undefined;
        }, 20_000, 50);
        const worker = await workerObjects();
        if (worker) {
          assert.ok(busiest.objects > baseline.worker!.objects, `the count can see the workers' objects (${busiest.objects} mid-run)`);
          assert.deepEqual(worker, baseline.worker, 'the workers hold what they held before');
        }
        t.diagnostic(`${engine}: ${cycles} cycles in ${seconds.toFixed(1)} s; UDP sockets ${after.udp} (before ${baseline.handles.udp}), timers ${after.timers} (before ${baseline.handles.timers})${worker ? `; worker routers ${worker.routers}, objects ${worker.objects} (before ${baseline.worker!.routers}, ${baseline.worker!.objects}; ${busiest.routers} and ${busiest.objects} mid-run)` : ''}`);
      } finally {
        await media.close();
      }
    });
  });
}
