// The publisher's video bitrate follows what its receivers can take. Each receiving browser tells
// the SFU, in REMB (RTCP "goog-remb"), how much it can receive on its connection; once a second the
// SFU tells each publisher the lowest of those among its receivers, never below a floor (one student
// on a bad link must not drag the class down to a slideshow) nor above a ceiling (what a lecture
// needs). Chromium caps its encoder at the REMB it is sent. Without simulcast there is one encoding
// for everyone, so the floor is the trade-off: below it a receiver loses packets (NACK recovers some)
// rather than everyone losing quality.
import { ReceiverEstimatedMaxBitrate, RtcpPayloadSpecificFeedback, type RtcpPacket } from 'werift';
import type { Publisher, Subscriber } from './peers.ts';

export interface BitrateLimits {
  /** bits per second */
  min: number;
  max: number;
}

/** A receiver's REMB is believed for this long after it arrived. */
export const FRESH_MS = 5_000;

/** Records a subscriber's REMB (called with every RTCP packet a subscriber's sender receives). */
export function noteReceiverEstimate(subscriber: Subscriber, packet: RtcpPacket, now = Date.now()): void {
  if (packet.type !== RtcpPayloadSpecificFeedback.type) return;
  const feedback = (packet as RtcpPayloadSpecificFeedback).feedback;
  if (!(feedback instanceof ReceiverEstimatedMaxBitrate)) return;
  subscriber.estimate = { bps: Number(feedback.bitrate), at: now };
}

/**
 * What the publisher should send: `lowest`, the lowest fresh estimate among the receivers of its
 * video (Subscribers.lowestEstimate), within the limits; the ceiling while no receiver has said
 * anything (Infinity). Undefined without video.
 */
export function targetBitrate(publisher: Publisher, limits: BitrateLimits, lowest: number): number | undefined {
  let video = false;
  for (const track of publisher.tracks.values()) if (track.info.kind === 'video') video = true;
  if (!video) return undefined;
  return Math.round(Math.min(limits.max, Math.max(limits.min, lowest)));
}

export interface ReceiverEstimate {
  bps: number;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/** Whether a receiver's estimate is still believed at `now`. */
export function isFresh(estimate: ReceiverEstimate | undefined, now: number): estimate is ReceiverEstimate {
  return estimate !== undefined && now - estimate.at <= FRESH_MS;
}

/** Sends the publisher a REMB for all its video SSRCs. */
export function sendEstimate(publisher: Publisher, bps: number): void {
  const ssrcs: number[] = [];
  let receiver;
  for (const track of publisher.tracks.values()) {
    const ssrc = track.receiver.track.ssrc;
    if (track.info.kind !== 'video' || ssrc === undefined) continue;
    ssrcs.push(ssrc);
    receiver ??= track.receiver;
  }
  if (!receiver || receiver.dtlsTransport?.state !== 'connected') return;
  publisher.sentEstimate = bps;
  receiver.dtlsTransport.sendRtcp([rembPacket(receiver.rtcpSsrc, bps, ssrcs)]).catch(() => {});
}

/** An RTCP REMB saying `bps` bit/s for these media SSRCs (bitrate = 18-bit mantissa << 6-bit exponent). */
export function rembPacket(senderSsrc: number, bps: number, ssrcs: number[]): RtcpPayloadSpecificFeedback {
  let exponent = 0;
  while (bps >= 2 ** (18 + exponent)) exponent++;
  const feedback = new ReceiverEstimatedMaxBitrate({
    senderSsrc,
    mediaSsrc: 0,
    brExp: exponent,
    brMantissa: Math.floor(bps / 2 ** exponent),
    ssrcNum: ssrcs.length,
    ssrcFeedbacks: ssrcs,
  });
  return new RtcpPayloadSpecificFeedback({ feedback });
}
