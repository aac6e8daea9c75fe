// What the browser's own statistics (getStats) say of the class's media: levels for the speaking
// indicator, and totals for diagnostics and the end-to-end tests.

export interface MediaTotals {
  framesDecoded: number;
  audioPacketsReceived: number;
  videoBytesReceived: number;
  framesEncoded: number;
  receiving: RTCPeerConnectionState | 'none';
  sending: RTCPeerConnectionState | 'none';
  /** The same received counts per publisher (by user id, as the stage's figures carry it in data-user). */
  byUser: Record<string, { framesDecoded: number; audioPacketsReceived: number }>;
  /** Each video stream sent (a simulcast layer has its rid) and the width it is encoded at now. */
  sentVideo: Array<{ rid: string; width: number }>;
}

/**
 * Audio level (0..1) of each publisher received, from the decoded audio (inbound-rtp stats): the
 * forwarded packets carry no audio-level header extension. `userOf` names the publisher of a mid.
 */
export async function receivedLevels(rx: RTCPeerConnection | undefined, userOf: (mid: string) => string | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!rx) return out;
  for (const report of (await rx.getStats()).values()) {
    const r = report as { type: string; kind?: string; mid?: string; audioLevel?: number };
    if (r.type !== 'inbound-rtp' || r.kind !== 'audio' || r.mid === undefined) continue;
    const userId = userOf(r.mid);
    if (userId) out.set(userId, Math.max(out.get(userId) ?? 0, r.audioLevel ?? 0));
  }
  return out;
}

/** The level of our own microphone as it is sent. */
export async function sendingLevel(tx: RTCPeerConnection | undefined): Promise<number> {
  if (!tx) return 0;
  let level = 0;
  (await tx.getStats()).forEach((report: { type: string; kind?: string; audioLevel?: number }) => {
    if (report.type === 'media-source' && report.kind === 'audio') level = Math.max(level, report.audioLevel ?? 0);
  });
  return level;
}

/** Totals of what we receive (`userOf` names the publisher of a mid) and send. */
export async function mediaTotals(rx: RTCPeerConnection | undefined, tx: RTCPeerConnection | undefined, userOf: (mid: string) => string | undefined = () => undefined): Promise<MediaTotals> {
  const totals: MediaTotals = { framesDecoded: 0, audioPacketsReceived: 0, videoBytesReceived: 0, framesEncoded: 0, receiving: rx?.connectionState ?? 'none', sending: tx?.connectionState ?? 'none', byUser: {}, sentVideo: [] };
  for (const report of (await rx?.getStats())?.values() ?? []) {
    const r = report as { type: string; kind?: string; mid?: string; framesDecoded?: number; packetsReceived?: number; bytesReceived?: number };
    if (r.type !== 'inbound-rtp') continue;
    const userId = r.mid === undefined ? undefined : userOf(r.mid);
    const mine = userId === undefined ? undefined : (totals.byUser[userId] ??= { framesDecoded: 0, audioPacketsReceived: 0 });
    if (r.kind === 'video') {
      totals.framesDecoded += r.framesDecoded ?? 0;
      totals.videoBytesReceived += r.bytesReceived ?? 0;
      if (mine) mine.framesDecoded += r.framesDecoded ?? 0;
    } else if (r.kind === 'audio') {
      totals.audioPacketsReceived += r.packetsReceived ?? 0;
      if (mine) mine.audioPacketsReceived += r.packetsReceived ?? 0;
    }
  }
  for (const report of (await tx?.getStats())?.values() ?? []) {
    const r = report as { type: string; kind?: string; framesEncoded?: number; rid?: string; frameWidth?: number };
    if (r.type !== 'outbound-rtp' || r.kind !== 'video') continue;
    totals.framesEncoded += r.framesEncoded ?? 0;
    totals.sentVideo.push({ rid: r.rid ?? '', width: r.frameWidth ?? 0 });
  }
  return totals;
}
