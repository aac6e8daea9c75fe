// The live class's signaling with real socket.io clients against a real tool: who may publish and
// when, bad SDP, codecs we do not carry, answers that are not ours, a client that never completes
// DTLS, the seat limit, the node's viewer limit, and a thousand connect/disconnect cycles that
// leave no peer, UDP socket or timer behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { connect, launchAs, request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { until } from '../helpers/wait.ts';

type Reply = { ok: true; [key: string]: unknown } | { ok: false; error: string };

/** A well-formed offer from a "browser" that will never answer ICE or DTLS. */
function offer({ video = 'VP8', audio = true }: { video?: 'VP8' | 'H263'; audio?: boolean } = {}): string {
  const fingerprint = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  const common = ['c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass', 'a=rtcp-mux'];
  const mids = audio ? ['0', '1'] : ['0'];
  const lines = ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${mids.join(' ')}`, 'a=msid-semantic: WMS s'];
  if (audio) lines.push('m=audio 9 UDP/TLS/RTP/SAVPF 111', ...common, 'a=mid:0', 'a=sendonly', 'a=msid:s mic', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=ssrc:1001 cname:s');
  const pt = video === 'VP8' ? 96 : 34;
  lines.push(`m=video 9 UDP/TLS/RTP/SAVPF ${pt}`, ...common, `a=mid:${mids.at(-1)}`, 'a=sendonly', 'a=msid:s cam', `a=rtpmap:${pt} ${video}/90000`, 'a=ssrc:1002 cname:s');
  return `${lines.join('\r\n')}\r\n`;
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('media signaling', () => {
  let c: Classroom;
  const sockets: Socket[] = [];
  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_CONNECT_TIMEOUT_SECONDS: '2', MEDIA_GRACE_SECONDS: '0', MEDIA_MAX_SUBSCRIBERS: '3' } });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await c?.close();
  });

  const join = async (room: string, user: string, roles: 'instructor' | 'learner', client?: string): Promise<{ socket: Socket; seat: string }> => {
    const launched = await launchAs(c.platform, { user: { id: `${room}-${user}`, name: user }, roles, resourceLink: { id: room } });
    assert.ok(launched.seat, `${user} got a seat`);
    const admission = await connect(c.service, launched.seat, client);
    assert.equal(admission.kind, 'welcome', `${user} is admitted`);
    sockets.push(admission.socket);
    return { socket: admission.socket, seat: launched.seat };
  };

  it('refuses media before the class starts and publishing by students, and bad SDP of every kind', async () => {
    const host = await join('bad-input', 'teacher', 'instructor');
    const student = await join('bad-input', 'student', 'learner');

    assert.deepEqual(await request<Reply>(student.socket, 'media:subscribe', {}), { ok: false, error: 'the class has not started' });
    assert.deepEqual(await request<Reply>(host.socket, 'media:publish', { sdp: offer(), sources: {} }), { ok: false, error: 'the class has not started' });
    assert.equal((await request<Reply>(host.socket, 'class:start', {})).ok, true);

    const studentPublish = await request<Reply>(student.socket, 'media:publish', { sdp: offer(), sources: { cam: 'camera' } });
    assert.equal(studentPublish.ok, false);
    assert.match((studentPublish as { error: string }).error, /only the instructor and participants brought on stage/);

    const cases: Array<[string, unknown, RegExp]> = [
      ['not SDP', { sdp: 'hello', sources: {} }, /not a session description: it must start with "v=0"/],
      ['no fingerprint', { sdp: offer().replace(/a=fingerprint:[^\r\n]+\r\n/g, ''), sources: {} }, /no DTLS fingerprint/],
      ['a broken fingerprint', { sdp: offer().replace(/a=fingerprint:sha-256 [^\r\n]+/g, 'a=fingerprint:sha-256 zz'), sources: {} }, /malformed DTLS fingerprint/],
      ['no media', { sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n', sources: {} }, /no media section/],
      ['only a codec we do not carry', { sdp: offer({ video: 'H263', audio: false }), sources: {} }, /no audio or video track the server can receive/],
      ['SDP over 60 KiB', { sdp: `v=0 ${'a'.repeat(61 * 1024)}`, sources: {} }, /invalid media:publish: sdp: Too big/i],
      ['a wrong type', { sdp: 42, sources: {} }, /invalid media:publish: sdp/],
      ['an unknown source', { sdp: offer(), sources: { cam: 'hologram' } }, /invalid media:publish: sources/],
    ];
    for (const [what, payload, expected] of cases) {
      const reply = await request<Reply>(host.socket, 'media:publish', payload);
      assert.equal(reply.ok, false, what);
      assert.match((reply as { error: string }).error, expected, what);
    }
    // Nothing was left behind by the refusals.
    assert.equal(c.service.classes.mediaTabs, 0);

    // A payload past the schema's limit is answered; a message over socket.io's 128 KiB limit (which
    // cannot be answered) closes that socket only, and the class goes on.
    const flooder = await join('bad-input', 'flooder', 'learner');
    const oversized = await request<Reply>(flooder.socket, 'media:answer', { sdp: 'x'.repeat(70 * 1024) });
    assert.match((oversized as { error: string }).error, /invalid media:answer: sdp: Too big/i);
    const closed = new Promise<string>((resolve) => flooder.socket.once('disconnect', resolve));
    flooder.socket.emit('media:answer', { sdp: 'x'.repeat(130 * 1024) });
    assert.equal(await closed, 'transport close');
    assert.equal((await request<Reply>(host.socket, 'seat:refresh', {})).ok, true, 'the host is still served');

    // An answer with no offer out, an answer that names another participant, and a garbage answer.
    const noOffer = await request<Reply>(student.socket, 'media:answer', { sdp: offer() });
    assert.match((noOffer as { error: string }).error, /there is no offer to answer: ask for one with media:subscribe/);
    const other = await request<Reply>(student.socket, 'media:answer', { sdp: offer(), userId: randomBytes(16).toString('hex') });
    assert.match((other as { error: string }).error, /invalid media:answer: .*(Unrecognized key|unrecognized)/i);
    const subscribed = await request<Reply & { sdp: string }>(student.socket, 'media:subscribe', {});
    assert.equal(subscribed.ok, true);
    const garbage = await request<Reply>(student.socket, 'media:answer', { sdp: 'v=0\r\nm=video nonsense\r\n' });
    assert.match((garbage as { error: string }).error, /media line werift cannot use/);

    // The ICE of another participant's connection cannot even be named: there is no such event.
    const unknown = await request<Reply>(student.socket, 'media:candidate', { userId: 'someone', candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' });
    assert.deepEqual(unknown, { ok: false, error: 'unknown event "media:candidate"' });

    assert.equal((await request<Reply>(host.socket, 'class:end', {})).ok, true);
    await until('media closed at the end of the class', () => c.service.classes.mediaTabs === 0, 10_000, 50);
  });

  it('closes a connection that never completes ICE and DTLS, and tells its owner', async () => {
    const host = await join('no-dtls', 'teacher', 'instructor');
    assert.equal((await request<Reply>(host.socket, 'class:start', {})).ok, true);
    const failed = new Promise<{ side: string; reason: string }>((resolve) => host.socket.once('media:failed', resolve));
    const published = await request<Reply & { sdp: string }>(host.socket, 'media:publish', { sdp: offer(), sources: { cam: 'camera', mic: 'microphone' } });
    assert.equal(published.ok, true);
    assert.match(published.sdp, /^v=0/);
    assert.equal(c.service.classes.mediaTabs, 1);
    const failure = await failed;
    assert.equal(failure.side, 'publisher');
    assert.match(failure.reason, /did not connect within 2 s \(ICE or DTLS never completed\)/);
    assert.equal(c.service.media.stats().peers, 0, 'the half-open connection is gone');
    assert.equal((await request<Reply>(host.socket, 'class:end', {})).ok, true);
  });

  it('keeps a room to its seat limit and the node to its viewer limit, hosts excepted', async () => {
    const host = await join('limits', 'teacher', 'instructor');
    const roomId = c.service.seats.verify(host.seat).roomId;
    assert.equal((await request<Reply>(host.socket, 'class:start', {})).ok, true);
    // The instructor allows two students in this room.
    const patch = await fetch(`${c.service.url}/api/rooms/${roomId}/settings`, { method: 'PATCH', headers: { authorization: `Bearer ${host.seat}`, 'content-type': 'application/json' }, body: JSON.stringify({ seatLimit: 2 }) });
    const body = (await patch.json()) as { seatLimit: number };
    assert.equal(patch.status, 200, JSON.stringify(body));
    assert.equal(body.seatLimit, 2);
    const first = await join('limits', 'first', 'learner');
    const second = await join('limits', 'second', 'learner');
    const third = await launchAs(c.platform, { user: { id: 'limits-third', name: 'third' }, roles: 'learner', resourceLink: { id: 'limits' } });
    const refused = await connect(c.service, third.seat);
    assert.equal(refused.kind, 'revoked');
    if (refused.kind === 'revoked') assert.match(refused.reason, /the room is full \(2 seats\)/);
    const coTeacher = await join('limits', 'co-teacher', 'instructor');

    // The node serves three viewers (MEDIA_MAX_SUBSCRIBERS=3).
    for (const s of [first, second, coTeacher]) assert.equal((await request<Reply>(s.socket, 'media:subscribe', {})).ok, true);
    const otherHost = await join('limits-2', 'teacher', 'instructor');
    assert.equal((await request<Reply>(otherHost.socket, 'class:start', {})).ok, true);
    const latecomer = await join('limits-2', 'latecomer', 'learner');
    const full = await request<Reply>(latecomer.socket, 'media:subscribe', {});
    assert.equal(full.ok, false);
    assert.match((full as { error: string }).error, /this Live Classroom server is serving as many viewers as it can \(3\)/);
    assert.equal((await request<Reply>(otherHost.socket, 'media:subscribe', {})).ok, true, 'hosts are always served');
    // The host took the fourth place; a place frees up when a student leaves.
    second.socket.close();
    await until('the second student\'s media closed', () => c.service.media.stats().subscribers === 3, 10_000, 50);
    assert.equal((await request<Reply>(latecomer.socket, 'media:subscribe', {})).ok, false, 'still three viewers');
    first.socket.close();
    await until('the first student\'s media closed', () => c.service.media.stats().subscribers === 2, 10_000, 50);
    assert.equal((await request<Reply>(latecomer.socket, 'media:subscribe', {})).ok, true);
    for (const h of [host, otherHost]) assert.equal((await request<Reply>(h.socket, 'class:end', {})).ok, true);
  });

  it('leaves no peer, UDP socket or timer behind after a thousand connect/disconnect cycles', async (t) => {
    const host = await join('cycles', 'teacher', 'instructor');
    assert.equal((await request<Reply>(host.socket, 'class:start', {})).ok, true);
    const student = await launchAs(c.platform, { user: { id: 'cycles-student', name: 'student' }, roles: 'learner', resourceLink: { id: 'cycles' } });
    await until('a quiet media server', () => c.service.media.stats().peers === 0, 10_000, 50);
    const baseline = resources();
    const cycles = 1000;
    let subscribed = 0;
    for (let i = 0; i < cycles; i++) {
      const admission = await connect(c.service, student.seat, `tab-${String(i).padStart(6, '0')}`);
      assert.equal(admission.kind, 'welcome');
      // Every tenth tab opens a receiving connection (a werift peer with its UDP socket) first.
      if (i % 10 === 0) {
        const reply = await request<Reply>(admission.socket, 'media:subscribe', {});
        assert.equal(reply.ok, true);
        subscribed++;
      }
      admission.socket.close();
    }
    assert.equal(subscribed, 100);
    await until('every tab\'s media closed', () => c.service.classes.mediaTabs === 0 && c.service.media.stats().peers === 0, 20_000, 50);
    await until(`UDP sockets and timers back to the baseline ${JSON.stringify(baseline)}`, () => {
      const now = resources();
      return (now.UDPWrap ?? 0) <= (baseline.UDPWrap ?? 0) && (now.Timeout ?? 0) <= (baseline.Timeout ?? 0) + 2;
    }, 20_000, 50);
    const stats = c.service.media.stats();
    const now = resources();
    t.diagnostic(`${cycles} cycles, ${subscribed} with a media connection: peers ${stats.peers}, tabs ${c.service.classes.mediaTabs}, UDP sockets ${now.UDPWrap ?? 0} (before: ${baseline.UDPWrap ?? 0}), timers ${now.Timeout ?? 0} (before: ${baseline.Timeout ?? 0})`);
    assert.deepEqual({ rooms: stats.rooms, peers: stats.peers, subscribers: stats.subscribers, forwards: stats.forwards }, { rooms: 0, peers: 0, subscribers: 0, forwards: 0 });
    assert.equal((await request<Reply>(host.socket, 'class:end', {})).ok, true);
  });
});
