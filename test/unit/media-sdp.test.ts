// The SFU's choice of one video codec in a publisher's offer (server/media/sdp.ts), on the video
// section Chromium 156 offers (trimmed to its codec lines), and the rejected sections of an answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keepOneVideoCodec, rejectedMids } from '../../server/media/sdp.ts';

const h264 = (pt: number, mode: number, profile: string) => [
  `a=rtpmap:${pt} H264/90000`,
  `a=rtcp-fb:${pt} nack pli`,
  `a=fmtp:${pt} level-asymmetry-allowed=1;packetization-mode=${mode};profile-level-id=${profile}`,
  `a=rtpmap:${pt + 1} rtx/90000`,
  `a=fmtp:${pt + 1} apt=${pt}`,
];
const CHROMIUM = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63', 'a=mid:0', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 108 109 116 117 45 46',
  'a=mid:1', 'a=sendonly', 'a=rtcp-fb:* ccm fir',
  'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack pli', 'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
  ...h264(102, 1, '42001f'), ...h264(104, 0, '42001f'), ...h264(108, 1, '42e01f'), ...h264(116, 1, '4d001f'),
  'a=rtpmap:45 AV1/90000', 'a=rtpmap:46 rtx/90000', 'a=fmtp:46 apt=45',
  '',
].join('\r\n');

const video = (sdp: string) => sdp.slice(sdp.indexOf('m=video'));
const audio = (sdp: string) => sdp.slice(sdp.indexOf('m=audio'), sdp.indexOf('m=video'));

describe('keepOneVideoCodec: the publisher is answered one video codec', () => {
  it('keeps constrained baseline H.264 with packetization-mode 1 when H.264 comes first', () => {
    const out = video(keepOneVideoCodec(CHROMIUM, ['H264', 'VP8']));
    assert.match(out, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 108\r\n/);
    assert.deepEqual(out.split('\r\n').filter((l) => /^a=(rtpmap|fmtp|rtcp-fb):/.test(l)), [
      'a=rtcp-fb:* ccm fir',
      'a=rtpmap:108 H264/90000',
      'a=rtcp-fb:108 nack pli',
      'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    ]);
    assert.match(out, /a=mid:1\r\na=sendonly/);
  });

  it('keeps VP8 when VP8 comes first, and leaves audio alone', () => {
    const sdp = keepOneVideoCodec(CHROMIUM, ['VP8', 'H264']);
    assert.match(video(sdp), /^m=video 9 UDP\/TLS\/RTP\/SAVPF 96\r\n/);
    assert.doesNotMatch(video(sdp), /H264|rtx|AV1/);
    assert.equal(audio(sdp), audio(CHROMIUM));
  });

  it('falls back to plain baseline, then to VP8; never takes packetization-mode 0 or another profile', () => {
    const noConstrained = CHROMIUM.replace(/ 108 109/, '').split('\r\n').filter((l) => !/:(108|109) /.test(l)).join('\r\n');
    assert.match(video(keepOneVideoCodec(noConstrained, ['H264', 'VP8'])), /^m=video 9 UDP\/TLS\/RTP\/SAVPF 102\r\n/);
    const onlyModeZeroAndMain = noConstrained.replace(/ 102 103/, '').split('\r\n').filter((l) => !/:(102|103) /.test(l)).join('\r\n');
    assert.match(video(keepOneVideoCodec(onlyModeZeroAndMain, ['H264', 'VP8'])), /^m=video 9 UDP\/TLS\/RTP\/SAVPF 96\r\n/);
    // Nothing wanted at all: left as it was (werift refuses it with its own message).
    assert.equal(keepOneVideoCodec(onlyModeZeroAndMain, ['H264']), onlyModeZeroAndMain);
  });

  it('names the sections an answer rejected', () => {
    const answer = ['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'm=video 0 UDP/TLS/RTP/SAVPF 0', 'a=mid:1', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:2', ''].join('\r\n');
    assert.deepEqual(rejectedMids(answer), ['1']);
  });
});
