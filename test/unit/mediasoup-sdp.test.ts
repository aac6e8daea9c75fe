// The SDP translation of the mediasoup engine (server/media/mediasoup/sdp.ts), on offers shaped as
// Chromium writes them: what a publisher's offer becomes (one producer per m-line), what we answer,
// what a subscriber is offered, and every hostile offer refused with a MediaError before mediasoup.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sdpTransform from 'sdp-transform';
import { MediaError } from '../../server/media/errors.ts';
import { MAX_MEDIA_SECTIONS, readPublishOffer, readSubscribeAnswer, writePublishAnswer, writeSubscribeOffer, type LocalTransport } from '../../server/media/mediasoup/sdp.ts';

const FP = 'sha-256 3A:B6:1F:8C:0D:55:E2:91:47:AA:03:6E:9B:C4:12:7F:58:D0:21:E6:BB:94:0C:3F:A7:61:D8:2E:45:F9:70:1B';
const ROUTER = {
  codecs: [
    { kind: 'audio' as const, mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
    { kind: 'video' as const, mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 101, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
  ],
  headerExtensions: [
    { kind: 'audio' as const, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' as const, preferredId: 1, direction: 'sendrecv' as const },
    { kind: 'video' as const, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' as const, preferredId: 1, direction: 'sendrecv' as const },
    { kind: 'audio' as const, uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level' as const, preferredId: 10, direction: 'sendrecv' as const },
    { kind: 'video' as const, uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01' as const, preferredId: 5, direction: 'sendrecv' as const },
    { kind: 'video' as const, uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id' as const, preferredId: 2, direction: 'recvonly' as const },
  ],
};

/** A publish offer as Chromium writes one: Opus audio, then video in VP8, plain and constrained-baseline H.264, each with RTX. */
function chromeOffer(video = videoSection()): string {
  return [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS stream-a',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:Zx1q',
    'a=ice-pwd:uY3iJ8vT0sXbQ9mKp2LrNw4a',
    'a=ice-options:trickle',
    `a=fingerprint:${FP}`,
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:9 urn:example:unknown',
    'a=sendonly',
    'a=msid:stream-a track-mic',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=ssrc:1111 cname:abc',
    'a=ssrc:1111 msid:stream-a track-mic',
    ...video,
    '',
  ].join('\r\n');
}

function videoSection(extra: string[] = ['a=ssrc-group:FID 2222 3333', 'a=ssrc:2222 cname:abc', 'a=ssrc:3333 cname:abc']): string[] {
  return [
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105',
    'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:Zx1q',
    'a=ice-pwd:uY3iJ8vT0sXbQ9mKp2LrNw4a',
    `a=fingerprint:${FP}`,
    'a=setup:actpass',
    'a=mid:1',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    'a=sendonly',
    'a=msid:stream-a track-cam',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 nack',
    'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000',
    'a=rtcp-fb:102 nack pli',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=rtpmap:103 rtx/90000',
    'a=fmtp:103 apt=102',
    'a=rtpmap:104 H264/90000',
    'a=rtcp-fb:104 goog-remb',
    'a=rtcp-fb:104 transport-cc',
    'a=rtcp-fb:104 ccm fir',
    'a=rtcp-fb:104 nack',
    'a=rtcp-fb:104 nack pli',
    'a=rtcp-fb:104 unknown-fb',
    'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:105 rtx/90000',
    'a=fmtp:105 apt=104',
    ...extra,
  ];
}

const LOCAL: LocalTransport = {
  ice: { usernameFragment: 'srvufrag', password: 'srvpassword0123456789', iceLite: true },
  candidates: [{ foundation: 'udpcandidate', priority: 1076302079, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'udp', port: 40123, type: 'host' }],
  dtls: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99' }] },
};

const refused = (sdp: string, message: RegExp) => assert.throws(() => readPublishOffer(sdp, ROUTER, ['H264', 'VP8']), (error: unknown) => error instanceof MediaError && error.code === 'invalid-sdp' && message.test(error.message));

describe('mediasoup SDP: a publisher’s offer', () => {
  it('becomes one producer per m-line: Opus, and constrained-baseline H.264 with its RTX, SSRCs, msid and the extensions both know', () => {
    const offer = readPublishOffer(chromeOffer(), ROUTER, ['H264', 'VP8']);
    assert.equal(offer.dtls.role, 'client');
    assert.equal(offer.dtls.fingerprints[0]!.algorithm, 'sha-256');
    assert.equal(offer.iceUfrag, 'Zx1q');
    const [audio, video] = offer.sections;
    assert.equal(audio!.kind, 'audio');
    assert.deepEqual(audio!.rtpParameters!.codecs.map((c) => [c.mimeType, c.payloadType]), [['audio/opus', 111]]);
    assert.deepEqual(audio!.rtpParameters!.codecs[0]!.parameters, { minptime: 10, useinbandfec: 1 });
    assert.deepEqual(audio!.rtpParameters!.headerExtensions!.map((e) => [e.uri, e.id]).sort(), [['urn:ietf:params:rtp-hdrext:sdes:mid', 4], ['urn:ietf:params:rtp-hdrext:ssrc-audio-level', 1]]);
    assert.deepEqual(audio!.rtpParameters!.encodings, [{ ssrc: 1111 }]);
    assert.equal(audio!.streamId, 'stream-a');
    assert.equal(audio!.trackId, 'track-mic');
    // 104 (42e01f) over 102 (42001f), with 104's RTX (105), and only the feedback mediasoup knows.
    assert.deepEqual(video!.rtpParameters!.codecs.map((c) => [c.mimeType, c.payloadType]), [['video/H264', 104], ['video/rtx', 105]]);
    assert.deepEqual(video!.rtpParameters!.codecs[0]!.rtcpFeedback!.map((f) => `${f.type} ${f.parameter ?? ''}`.trim()).sort(), ['ccm fir', 'goog-remb', 'nack', 'nack pli', 'transport-cc']);
    assert.deepEqual(video!.rtpParameters!.encodings, [{ ssrc: 2222, rtx: { ssrc: 3333 } }]);
    assert.deepEqual(video!.rtpParameters!.rtcp, { cname: 'abc', reducedSize: true });
    assert.ok(!video!.refused);
  });

  it('takes VP8 when it is wanted first, and refuses a video m-line with no codec it takes', () => {
    const vp8 = readPublishOffer(chromeOffer(), ROUTER, ['VP8', 'H264']);
    assert.deepEqual(vp8.sections[1]!.rtpParameters!.codecs.map((c) => c.payloadType), [96, 97]);
    const onlyH264Main = chromeOffer().replace(/profile-level-id=42e01f/, 'profile-level-id=4d001f').replace(/profile-level-id=42001f/, 'profile-level-id=64001f');
    const none = readPublishOffer(onlyH264Main, ROUTER, ['H264']);
    assert.match(none.sections[1]!.refused ?? '', /no codec the server takes/);
    assert.equal(none.sections[1]!.rtpParameters, undefined);
  });

  it('reads simulcast: three layers by rid, lowest first as listed', () => {
    const sdp = chromeOffer(videoSection(['a=rid:q send', 'a=rid:h send', 'a=rid:f send', 'a=simulcast:send q;h;f']));
    const video = readPublishOffer(sdp, ROUTER, ['H264']).sections[1]!;
    assert.deepEqual(video.rids, ['q', 'h', 'f']);
    assert.deepEqual(video.rtpParameters!.encodings, [{ rid: 'q' }, { rid: 'h' }, { rid: 'f' }]);
  });

  it('refuses, with a MediaError, what mediasoup must never see', () => {
    refused(chromeOffer().replaceAll(`a=fingerprint:${FP}\r\n`, ''), /no DTLS fingerprint/);
    refused(chromeOffer().replaceAll(FP, 'sha-256 nothex'), /malformed DTLS fingerprint/);
    refused(chromeOffer().replaceAll('a=ice-ufrag:Zx1q\r\n', ''), /no ICE credentials/);
    refused(chromeOffer().replaceAll('a=ice-pwd:uY3iJ8vT0sXbQ9mKp2LrNw4a\r\n', ''), /no ICE password/);
    refused(chromeOffer().replace('a=mid:1', 'a=mid:0'), /same mid/);
    const twenty = Array.from({ length: 20 }, (_, i) => `r${i}`);
    refused(chromeOffer(videoSection([...twenty.map((r) => `a=rid:${r} send`), `a=simulcast:send ${twenty.join(';')}`])), /20 simulcast layers \(at most 3\)/);
    refused(chromeOffer(videoSection(['a=rid:q send', 'a=simulcast:send q;ghost'])), /do not declare/);
    refused(chromeOffer(videoSection(['a=rid:q send'])), /no "a=simulcast:send" line/);
    refused(chromeOffer(videoSection([])), /names no SSRC/);
    const many = chromeOffer() + Array.from({ length: MAX_MEDIA_SECTIONS }, (_, i) => `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x${i}\r\na=rtpmap:111 opus/48000/2\r\n`).join('');
    refused(many, /media sections \(at most 64\)/);
  });
});

describe('mediasoup SDP: our answer and our offers', () => {
  it('answers ICE-lite and passive, recvonly with the producer’s codecs and extensions, a refused m-line at port 0', () => {
    const offer = readPublishOffer(chromeOffer(), ROUTER, ['H264']);
    const [audio, video] = offer.sections;
    const answer = sdpTransform.parse(writePublishAnswer(offer, [{ offered: audio!, rtpParameters: audio!.rtpParameters! }, { offered: { ...video!, refused: 'no' } }], LOCAL, 1));
    assert.equal(answer.icelite, 'ice-lite');
    assert.equal(String(answer.groups?.[0]?.mids), '0');
    const [a, v] = answer.media;
    assert.equal(a!.direction, 'recvonly');
    assert.equal(a!.setup, 'passive');
    assert.equal(a!.iceUfrag, 'srvufrag');
    assert.equal(a!.candidates?.[0]?.port, 40123);
    assert.equal(a!.fingerprint?.hash, LOCAL.dtls.fingerprints[0]!.value);
    assert.deepEqual(a!.rtp.map((r) => r.payload), [111]);
    assert.deepEqual(a!.ext?.map((e) => e.value).sort(), [1, 4]);
    assert.equal(v!.port, 0);
    assert.equal(String(v!.mid), '1');
  });

  it('answers simulcast with the same rids to receive', () => {
    const offer = readPublishOffer(chromeOffer(videoSection(['a=rid:q send', 'a=rid:h send', 'a=rid:f send', 'a=simulcast:send q;h;f'])), ROUTER, ['H264']);
    const answer = sdpTransform.parse(writePublishAnswer(offer, offer.sections.map((s) => ({ offered: s, rtpParameters: s.rtpParameters! })), LOCAL, 1));
    assert.deepEqual(answer.media[1]!.rids?.map((r) => `${r.id} ${r.direction}`), ['q recv', 'h recv', 'f recv']);
    assert.equal(answer.media[1]!.simulcast?.list1, 'q;h;f');
  });

  it('offers a subscriber one sendonly m-line per consumer, with its SSRC and RTX; a closed one inactive if it tags the bundle, else port 0', () => {
    const consumer = (ssrc: number, rtx?: number) => ({
      mid: '',
      codecs: [{ mimeType: 'video/H264', payloadType: 101, clockRate: 90000, parameters: { 'packetization-mode': 1 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }, ...(rtx ? [{ mimeType: 'video/rtx', payloadType: 102, clockRate: 90000, parameters: { apt: 101 } }] : [])],
      headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' as const, id: 1 }],
      encodings: [{ ssrc, ...(rtx ? { rtx: { ssrc: rtx } } : {}) }],
      rtcp: { cname: 'sfu', reducedSize: true },
    });
    const sdp = writeSubscribeOffer(
      [
        { mid: '0', kind: 'video' },
        { mid: '1', kind: 'audio' },
        { mid: '2', kind: 'video', rtpParameters: consumer(5000, 5001), streamId: 'ada-cam', trackId: 'ada-track1' },
      ],
      LOCAL,
      3,
    );
    const offer = sdpTransform.parse(sdp);
    assert.equal(offer.origin.sessionVersion, 3);
    assert.equal(offer.groups?.[0]?.mids, '0 2');
    const [first, closed, live] = offer.media;
    assert.equal(first!.direction, 'inactive');
    assert.notEqual(first!.port, 0);
    assert.equal(closed!.port, 0);
    assert.equal(live!.direction, 'sendonly');
    assert.equal(live!.setup, 'actpass');
    assert.deepEqual(live!.ssrcGroups, [{ semantics: 'FID', ssrcs: '5000 5001' }]);
    assert.deepEqual(live!.msid, [{ id: 'ada-cam', appdata: 'ada-track1' }]);
    assert.deepEqual(live!.rtcpFb?.map((f) => `${f.type} ${f.subtype ?? ''}`.trim()), ['nack', 'nack pli']);
  });

  it('reads a subscriber’s answer: its DTLS role, and the m-lines it refused', () => {
    const answer = [
      'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
      'm=video 9 UDP/TLS/RTP/SAVPF 101', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789012345678901', `a=fingerprint:${FP}`, 'a=setup:active', 'a=mid:0', 'a=recvonly', 'a=rtpmap:101 H264/90000',
      'm=video 0 UDP/TLS/RTP/SAVPF 101', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=inactive', 'a=rtpmap:101 H264/90000', '',
    ].join('\r\n');
    const read = readSubscribeAnswer(answer);
    assert.equal(read.dtls.role, 'client');
    assert.deepEqual([...read.refused], ['1']);
    assert.deepEqual([...read.mids], ['0', '1']);
    assert.equal(readSubscribeAnswer(answer.replace('a=setup:active', 'a=setup:passive')).dtls.role, 'server');
  });
});
