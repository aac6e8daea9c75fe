// A room's RTP, as plain (unencrypted) RTP over loopback UDP, for a recorder (FFmpeg) to read: one
// video stream (whatever the recorder is told is on stage: the screen share, else a camera) and a
// fixed number of audio streams (the host's microphone, a speaker's). Each outgoing stream keeps one
// SSRC, continuous sequence numbers and timestamps across changes of source, so FFmpeg sees a single
// stream; video changes source only at a keyframe of the new source, and keyframes are asked for
// every `keyframeIntervalMs` so the recording can be cut into segments. An audio stream with no
// source (a muted or absent microphone) carries Opus silence, so the recording's audio never stops.
// The video is in one codec (H.264 or VP8, as the recorder chose): a source in the other codec
// cannot be recorded by this tap, so while one is on stage the slate goes on and the recorder is told.
import { createSocket, type Socket } from 'node:dgram';
import { RtpHeader, RtpPacket } from 'werift';
import { isKeyframeStart, packetizeFrame } from './tap-video.ts';
import type { PublishedTrackInfo, VideoCodec } from './types.ts';

/** A published track as a tap sees it, on either engine. */
export interface TapSource {
  readonly info: PublishedTrackInfo;
  /** `listener` gets each of the track's RTP packets until removeTap(); `closed` is called if the track goes first. */
  addTap(listener: (packet: RtpPacket) => void, closed: () => void): void;
  removeTap(listener: (packet: RtpPacket) => void): void;
  /** Asks the publisher for a keyframe (rate-limited by the engine). */
  requestKeyframe(): void;
}

/** Payload types in the tap's RTP, as the recorder's SDP must name them. */
export const TAP_CODECS = {
  video: {
    VP8: { payloadType: 96, name: 'VP8', clockRate: 90_000 },
    H264: { payloadType: 97, name: 'H264', clockRate: 90_000, fmtp: 'packetization-mode=1' },
  },
  audio: { payloadType: 111, name: 'opus', clockRate: 48_000, channels: 2 },
} as const;

export interface TapTarget {
  /** Where the recorder listens; loopback. */
  host: string;
  videoPort: number;
  audioPorts: number[];
  /** Ask the video source for a keyframe this often (segment length). Default 2000 ms. */
  keyframeIntervalMs?: number;
  /** The video's codec: only sources in it are recorded. Default VP8. */
  videoCodec?: VideoCodec;
  /**
   * One keyframe in that codec (e.g. a black 16:9 picture: a VP8 frame, or an H.264 access unit
   * with SPS and PPS in Annex B) sent twice a second while no video is on stage, so the recorder
   * always has a picture: from the first second, and while the camera is off.
   */
  slate?: Buffer;
  /** The video on stage is in another codec than this tap's (it records the slate meanwhile). */
  onOtherCodec?: (codec: string) => void;
}

export interface TapSources {
  video?: string;
  /** One published audio track id (or none) per audio port, in order. */
  audio: Array<string | undefined>;
}

export interface TapStats {
  videoPackets: number;
  audioPackets: number;
  silencePackets: number;
  /** Slate keyframes sent while no video was on stage. */
  slateFrames: number;
  /** Video changes of source made (each at a keyframe). */
  switches: number;
  /** Times a video source in another codec than the tap's was put on stage (and not recorded). */
  otherCodec: number;
}

/** One Opus frame of 20 ms of silence (TOC 0xf8: CELT fullband 20 ms, mono), as Chromium's DTX sends. */
const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);
const SILENCE_AFTER_MS = 100;
const SLATE_AFTER_MS = 500;

class OutStream {
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  readonly payloadType: number;
  readonly clockRate: number;
  readonly port: number;
  private seq = Math.floor(Math.random() * 0x8000);
  private ts = (Math.random() * 0x7fffffff) >>> 0;
  private lastSentAt = 0;
  /** The source whose packets are mapped, and how its seq/timestamps map onto ours. */
  private from: TapSource | undefined;
  private seqOffset = 0;
  private tsOffset = 0;
  private highestSeq = -1;
  lastSourceAt = 0;

  constructor(payloadType: number, clockRate: number, port: number) {
    this.payloadType = payloadType;
    this.clockRate = clockRate;
    this.port = port;
  }

  /** Our packet for a source packet; a new source (or a resync) continues our numbering from now. */
  map(packet: RtpPacket, source: TapSource, now: number): Buffer {
    const header = packet.header;
    if (this.from !== source) {
      this.from = source;
      const elapsed = this.lastSentAt === 0 ? 0 : Math.max(1, Math.round(((now - this.lastSentAt) * this.clockRate) / 1000));
      this.seqOffset = (this.seq + 1 - header.sequenceNumber) & 0xffff;
      this.tsOffset = (this.ts + elapsed - header.timestamp) >>> 0;
      this.highestSeq = -1;
    }
    const seq = (header.sequenceNumber + this.seqOffset) & 0xffff;
    const ts = (header.timestamp + this.tsOffset) >>> 0;
    // Keep our latest numbers from the newest packet, not from a late one.
    if (this.highestSeq < 0 || ((seq - this.highestSeq) & 0xffff) < 0x8000) {
      this.highestSeq = seq;
      this.seq = seq;
      this.ts = ts;
      this.lastSentAt = now;
    }
    this.lastSourceAt = now;
    return this.serialize(seq, ts, header.marker, packet.payload);
  }

  /** Packets of our own (silence, a slate) after the last one; the next source packet starts afresh. */
  synthesize(payloads: Buffer[], now: number): Buffer[] {
    this.from = undefined;
    const elapsed = this.lastSentAt === 0 ? 0 : Math.max(1, Math.round(((now - this.lastSentAt) * this.clockRate) / 1000));
    this.ts = (this.ts + elapsed) >>> 0;
    this.lastSentAt = now;
    return payloads.map((payload, i) => {
      this.seq = (this.seq + 1) & 0xffff;
      return this.serialize(this.seq, this.ts, i === payloads.length - 1, payload);
    });
  }

  forget(source: TapSource) {
    if (this.from === source) this.from = undefined;
  }

  private serialize(sequenceNumber: number, timestamp: number, marker: boolean, payload: Buffer): Buffer {
    const header = new RtpHeader({ payloadType: this.payloadType, sequenceNumber, timestamp, ssrc: this.ssrc, marker });
    return new RtpPacket(header, payload).serialize();
  }
}

export class MediaTap {
  private readonly socket: Socket;
  private readonly target: TapTarget;
  private readonly video: OutStream;
  private readonly audio: OutStream[];
  private readonly lookup: (trackId: string) => TapSource | undefined;
  /** Video: what is recorded now, and what it changes to at the next keyframe. */
  private videoSource: TapSource | undefined;
  private videoNext: TapSource | undefined;
  private readonly audioSources: Array<TapSource | undefined>;
  /** The source on stage, if it is in another codec than the tap's (told once). */
  private otherCodecSource: TapSource | undefined;
  private readonly listeners = new Map<TapSource, (packet: RtpPacket) => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly slate: Buffer[] | undefined;
  readonly videoCodec: VideoCodec;
  private closed = false;
  /** Called once when the tap closes (the server forgets it). */
  onClose: (() => void) | undefined;
  readonly counts: TapStats = { videoPackets: 0, audioPackets: 0, silencePackets: 0, slateFrames: 0, switches: 0, otherCodec: 0 };

  constructor(target: TapTarget, lookup: (trackId: string) => TapSource | undefined) {
    this.target = target;
    this.lookup = lookup;
    this.socket = createSocket('udp4');
    this.socket.on('error', () => {}); // the recorder went away: its own exit is reported by recordings/
    this.videoCodec = target.videoCodec ?? 'VP8';
    const video = TAP_CODECS.video[this.videoCodec];
    this.video = new OutStream(video.payloadType, video.clockRate, target.videoPort);
    this.audio = target.audioPorts.map((port) => new OutStream(TAP_CODECS.audio.payloadType, TAP_CODECS.audio.clockRate, port));
    this.audioSources = target.audioPorts.map(() => undefined);
    this.slate = target.slate && target.slate.length > 0 ? packetizeFrame(this.videoCodec, target.slate) : undefined;
    this.timers.push(setInterval(() => this.fillSilence(), 20));
    if (this.slate) {
      this.fillSlate();
      this.timers.push(setInterval(() => this.fillSlate(), SLATE_AFTER_MS));
    }
    const askKeyframe = () => (this.videoNext ?? this.videoSource)?.requestKeyframe();
    this.timers.push(setInterval(askKeyframe, target.keyframeIntervalMs ?? 2000));
    // The recorder may not be listening yet when the first keyframe comes: ask again soon after.
    for (const ms of [500, 1000]) this.timers.push(setTimeout(askKeyframe, ms));
  }

  /** What to record: track ids as MediaRoom.tracks() names them. Unknown ids count as none. */
  setSources(sources: TapSources) {
    if (this.closed) return;
    let video = sources.video === undefined ? undefined : this.lookup(sources.video);
    if (video && video.info.codec !== this.videoCodec) {
      // Not recordable here: the slate rather than a picture students no longer see.
      if (video !== this.otherCodecSource) {
        this.counts.otherCodec++;
        this.target.onOtherCodec?.(video.info.codec ?? 'unknown');
      }
      this.otherCodecSource = video;
      video = undefined;
    } else {
      this.otherCodecSource = undefined;
    }
    if (video !== (this.videoNext ?? this.videoSource)) {
      // A new source starts at its next keyframe; until then the old one (or the slate) goes on.
      if (video === undefined) this.videoSource = this.videoNext = undefined;
      else this.videoNext = video === this.videoSource ? undefined : video;
      video?.requestKeyframe();
    }
    this.audio.forEach((_, i) => (this.audioSources[i] = sources.audio[i] === undefined ? undefined : this.lookup(sources.audio[i]!)));
    this.listen();
  }

  /** A track was removed from the room (its listener is already gone). */
  private trackClosed(track: TapSource) {
    this.listeners.delete(track);
    if (this.videoSource === track) this.videoSource = undefined;
    if (this.videoNext === track) this.videoNext = undefined;
    this.audioSources.forEach((s, i) => {
      if (s === track) this.audioSources[i] = undefined;
    });
    this.video.forget(track);
    for (const out of this.audio) out.forget(track);
    this.listen();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.videoSource = this.videoNext = undefined;
    this.audioSources.fill(undefined);
    this.listen();
    this.socket.close();
    this.onClose?.();
  }

  /** Hooks onto exactly the tracks in use. */
  private listen() {
    const wanted = new Set<TapSource>();
    for (const track of [this.videoSource, this.videoNext, ...this.audioSources]) if (track) wanted.add(track);
    for (const [track, listener] of this.listeners) {
      if (wanted.has(track)) continue;
      track.removeTap(listener);
      this.listeners.delete(track);
    }
    for (const track of wanted) {
      if (this.listeners.has(track)) continue;
      const listener = (packet: RtpPacket) => this.receive(track, packet);
      track.addTap(listener, () => this.trackClosed(track));
      this.listeners.set(track, listener);
    }
  }

  private receive(track: TapSource, packet: RtpPacket) {
    if (this.closed) return;
    const now = Date.now();
    if (track.info.kind === 'video') {
      if (track === this.videoNext && isKeyframeStart(this.videoCodec, packet.payload)) {
        this.videoSource = track;
        this.videoNext = undefined;
        this.counts.switches++;
        this.listen();
      }
      if (track !== this.videoSource) return;
      this.send(this.video.map(packet, track, now), this.video.port);
      this.counts.videoPackets++;
      return;
    }
    this.audioSources.forEach((source, i) => {
      if (source !== track) return;
      const out = this.audio[i]!;
      this.send(out.map(packet, track, now), out.port);
      this.counts.audioPackets++;
    });
  }

  private fillSilence() {
    const now = Date.now();
    for (const out of this.audio) {
      if (now - out.lastSourceAt < SILENCE_AFTER_MS) continue;
      for (const packet of out.synthesize([OPUS_SILENCE], now)) this.send(packet, out.port);
      this.counts.silencePackets++;
    }
  }

  private fillSlate() {
    const now = Date.now();
    if (!this.slate || now - this.video.lastSourceAt < SLATE_AFTER_MS) return;
    for (const packet of this.video.synthesize(this.slate, now)) this.send(packet, this.video.port);
    this.counts.slateFrames++;
  }

  private send(buffer: Buffer, port: number) {
    this.socket.send(buffer, port, this.target.host);
  }
}

/** The taps an engine has open: each is forgotten when it closes; closeAll() when the engine closes. */
export class Taps {
  readonly #open = new Set<MediaTap>();

  open(target: TapTarget, lookup: (trackId: string) => TapSource | undefined): MediaTap {
    const tap = new MediaTap(target, lookup);
    this.#open.add(tap);
    tap.onClose = () => this.#open.delete(tap);
    return tap;
  }

  closeAll(): void {
    for (const tap of [...this.#open]) tap.close();
  }
}
