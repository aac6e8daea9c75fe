// The recording tap's video codecs (server/media/tap-video.ts): H.264 access units as RTP payloads
// (RFC 6184: single NAL units, STAP-A, FU-A), put back together here as a depacketizer would, and
// where a keyframe starts; a VP8 frame's payloads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { annexBUnits, isKeyframeStart, packetizeFrame } from '../../server/media/tap-video.ts';

const START = Buffer.from([0, 0, 0, 1]);
const nal = (header: number, size: number) => Buffer.concat([Buffer.from([header]), Buffer.alloc(size - 1, 0xab)]);
const SPS = nal(0x67, 25);
const PPS = nal(0x68, 5);
const SEI = nal(0x06, 40);
const BIG_IDR = nal(0x65, 3000);

/** The NAL units in RTP payloads, as a receiver rebuilds them. */
function depacketize(payloads: Buffer[]): Buffer[] {
  const units: Buffer[] = [];
  let fragments: Buffer[] = [];
  for (const p of payloads) {
    const type = p[0]! & 0x1f;
    if (type === 24) {
      for (let i = 1; i < p.length; ) {
        const size = p.readUInt16BE(i);
        units.push(p.subarray(i + 2, i + 2 + size));
        i += 2 + size;
      }
    } else if (type === 28) {
      if (p[1]! & 0x80) fragments = [Buffer.from([(p[0]! & 0xe0) | (p[1]! & 0x1f)])];
      fragments.push(p.subarray(2));
      if (p[1]! & 0x40) units.push(Buffer.concat(fragments));
    } else {
      units.push(p);
    }
  }
  return units;
}

describe('tap video: H.264 and VP8 as RTP', () => {
  it('splits an Annex B access unit into its NAL units, without SEI', () => {
    const stream = Buffer.concat([START, SPS, Buffer.from([0, 0, 1]), PPS, START, SEI, START, BIG_IDR]);
    assert.deepEqual(annexBUnits(stream), [SPS, PPS, BIG_IDR]);
  });

  it('sends SPS and PPS together (STAP-A) and a large IDR in fragments (FU-A) that put back make the same units', () => {
    const payloads = packetizeFrame('H264', Buffer.concat([START, SPS, START, PPS, START, BIG_IDR]));
    assert.deepEqual(payloads.map((p) => p[0]! & 0x1f), [24, 28, 28, 28]);
    assert.ok(payloads.every((p) => p.length <= 1100));
    assert.deepEqual(depacketize(payloads), [SPS, PPS, BIG_IDR]);
    // A switch can happen at the packet with the SPS (the first) or at the IDR's first fragment; not later.
    assert.deepEqual(payloads.map((p) => isKeyframeStart('H264', p)), [true, true, false, false]);
  });

  it('finds a keyframe in a single SPS or IDR unit and in the first fragment of an IDR, not in other slices', () => {
    assert.equal(isKeyframeStart('H264', SPS), true);
    assert.equal(isKeyframeStart('H264', nal(0x65, 100)), true);
    assert.equal(isKeyframeStart('H264', nal(0x41, 100)), false, 'a P slice');
    assert.equal(isKeyframeStart('H264', Buffer.from([0x7c, 0x85, 1, 2])), true, 'FU-A start of an IDR');
    assert.equal(isKeyframeStart('H264', Buffer.from([0x7c, 0x45, 1, 2])), false, 'FU-A end of an IDR');
    assert.equal(isKeyframeStart('H264', Buffer.from([0x7c, 0x81, 1, 2])), false, 'FU-A start of a P slice');
    assert.equal(isKeyframeStart('H264', Buffer.from([0x78, 0, 2, 0x41, 0, 0, 2, 0x65, 0])), true, 'STAP-A with an IDR');
    assert.equal(isKeyframeStart('H264', Buffer.alloc(0)), false);
  });

  it('sends a VP8 frame with a start bit on its first payload only; a keyframe starts there', () => {
    // A VP8 key frame's first bytes: frame tag (key frame, show), start code, 16x16.
    const frame = Buffer.concat([Buffer.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00]), Buffer.alloc(2000, 0x55)]);
    const payloads = packetizeFrame('VP8', frame);
    assert.deepEqual(payloads.map((p) => p[0]), [0x10, 0x00]);
    assert.deepEqual(Buffer.concat(payloads.map((p) => p.subarray(1))), frame);
    assert.deepEqual(payloads.map((p) => isKeyframeStart('VP8', p)), [true, false]);
    assert.equal(isKeyframeStart('VP8', Buffer.from([0x10, 0x01, 0, 0])), false, 'an inter frame');
  });
});
