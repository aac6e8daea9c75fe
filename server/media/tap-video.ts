// The video codecs a recording tap carries: a whole frame (the slate) as RTP payloads, and which
// packet starts a keyframe (where the recording may change source). VP8 per RFC 7741, H.264 per
// RFC 6184 (packetization-mode 1: single NAL units, STAP-A, FU-A).
import { Vp8RtpPayload } from 'werift';
import type { VideoCodec } from './types.ts';

/** RTP payloads stay under a loopback-safe size. */
const MAX_PAYLOAD = 1100;

const NAL_IDR = 5;
const NAL_SEI = 6;
const NAL_SPS = 7;
const NAL_AUD = 9;
const STAP_A = 24;
const FU_A = 28;

/** One frame as RTP payloads: a VP8 frame, or an H.264 access unit in Annex B (start codes). */
export function packetizeFrame(codec: VideoCodec, frame: Buffer): Buffer[] {
  return codec === 'H264' ? packetizeH264(annexBUnits(frame)) : packetizeVp8(frame);
}

/**
 * Does this packet start a keyframe the recording can switch to? VP8: the first partition of a
 * key frame. H.264: a packet carrying an SPS (browsers send SPS and PPS just before each IDR, so
 * the decoder gets the new source's parameters first), or the start of an IDR slice.
 */
export function isKeyframeStart(codec: VideoCodec, payload: Buffer): boolean {
  return codec === 'H264' ? h264KeyframeStart(payload) : vp8KeyframeStart(payload);
}

function packetizeVp8(frame: Buffer): Buffer[] {
  const out: Buffer[] = [];
  // A 1-byte payload descriptor, S=1 on the first packet.
  for (let offset = 0; offset < frame.length; offset += MAX_PAYLOAD) {
    out.push(Buffer.concat([Buffer.from([offset === 0 ? 0x10 : 0x00]), frame.subarray(offset, offset + MAX_PAYLOAD)]));
  }
  return out;
}

function vp8KeyframeStart(payload: Buffer): boolean {
  try {
    const vp8 = Vp8RtpPayload.deSerialize(payload);
    return vp8.isPartitionHead && vp8.pid === 0 && vp8.isKeyframe;
  } catch {
    return false;
  }
}

/** The NAL units of an Annex B byte stream, without SEI and access unit delimiters. */
export function annexBUnits(data: Buffer): Buffer[] {
  const units: Buffer[] = [];
  let start = -1;
  const push = (end: number) => {
    let last = end;
    while (last > start && data[last - 1] === 0) last--; // the first zero of a 4-byte start code
    if (last > start) units.push(data.subarray(start, last));
  };
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] !== 0 || data[i + 1] !== 0 || data[i + 2] !== 1) continue;
    if (start >= 0) push(i);
    start = i + 3;
    i += 2;
  }
  if (start >= 0) push(data.length);
  return units.filter((unit) => ![NAL_SEI, NAL_AUD].includes(unit[0]! & 0x1f));
}

/** NAL units as RTP payloads: small ones together (STAP-A) or alone, large ones in fragments (FU-A). */
function packetizeH264(units: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let batch: Buffer[] = [];
  let batchSize = 1;
  const flush = () => {
    if (batch.length === 1) out.push(batch[0]!);
    if (batch.length > 1) {
      const nri = Math.max(...batch.map((unit) => unit[0]! & 0x60));
      const parts: Buffer[] = [Buffer.from([nri | STAP_A])];
      for (const unit of batch) {
        const size = Buffer.alloc(2);
        size.writeUInt16BE(unit.length);
        parts.push(size, unit);
      }
      out.push(Buffer.concat(parts));
    }
    batch = [];
    batchSize = 1;
  };
  for (const unit of units) {
    if (unit.length + 1 > MAX_PAYLOAD) {
      flush();
      const indicator = (unit[0]! & 0xe0) | FU_A;
      const type = unit[0]! & 0x1f;
      for (let offset = 1; offset < unit.length; offset += MAX_PAYLOAD - 2) {
        const end = Math.min(unit.length, offset + MAX_PAYLOAD - 2);
        const header = (offset === 1 ? 0x80 : 0) | (end === unit.length ? 0x40 : 0) | type;
        out.push(Buffer.concat([Buffer.from([indicator, header]), unit.subarray(offset, end)]));
      }
      continue;
    }
    if (batchSize + 2 + unit.length > MAX_PAYLOAD) flush();
    batch.push(unit);
    batchSize += 2 + unit.length;
  }
  flush();
  return out;
}

function h264KeyframeStart(payload: Buffer): boolean {
  if (payload.length === 0) return false;
  const type = payload[0]! & 0x1f;
  if (type === NAL_SPS || type === NAL_IDR) return true;
  if (type === FU_A) return payload.length > 1 && (payload[1]! & 0x80) !== 0 && [NAL_SPS, NAL_IDR].includes(payload[1]! & 0x1f);
  if (type !== STAP_A) return false;
  for (let offset = 1; offset + 2 < payload.length; ) {
    const size = payload.readUInt16BE(offset);
    const inner = payload[offset + 2]! & 0x1f;
    if (inner === NAL_SPS || inner === NAL_IDR) return true;
    offset += 2 + size;
  }
  return false;
}
