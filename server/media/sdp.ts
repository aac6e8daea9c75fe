// Cheap checks on SDP before either engine sees it, codec names read from SDP, and the
// announced-address rewrite of our own SDP.
import { MediaError } from './errors.ts';

const MAX_SDP_LENGTH = 128 * 1024;

/** 'H264', 'VP8', 'opus' from a negotiated codec's MIME type ('video/H264'). */
export function codecName(mimeType: string): string {
  const name = mimeType.split('/')[1] ?? mimeType;
  const upper = name.toUpperCase();
  return upper === 'OPUS' ? 'opus' : upper;
}


/**
 * Throws MediaError('invalid-sdp') unless `sdp` looks like a WebRTC session description.
 * `allowNoMedia`: an answer to an offer made while the room had no tracks has no m-line at all.
 */
export function checkSdp(sdp: unknown, what: string, allowNoMedia = false): string {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new MediaError('invalid-sdp', `The ${what} is empty: a session description (SDP text) was expected.`);
  if (sdp.length > MAX_SDP_LENGTH) throw new MediaError('invalid-sdp', `The ${what} is too long (${sdp.length} characters, at most ${MAX_SDP_LENGTH}).`);
  const lines = sdp.split(/\r?\n/);
  if (lines[0]?.trim() !== 'v=0') throw new MediaError('invalid-sdp', `The ${what} is not a session description: it must start with "v=0".`);
  const media = lines.filter((line) => line.startsWith('m='));
  if (media.length === 0 && !allowNoMedia) throw new MediaError('invalid-sdp', `The ${what} has no media section ("m=" line).`);
  for (const line of media) {
    if (!/^m=(audio|video|application) \d+ [A-Z/]+( \S+)+\s*$/.test(line)) {
      throw new MediaError('invalid-sdp', `The ${what} has a media line werift cannot use: "${line.slice(0, 80)}".`);
    }
  }
  // Nothing to connect (no m-line, or all rejected with port 0): no transport parameters needed.
  if (media.every((line) => line.split(' ')[1] === '0')) return sdp;
  // werift applies an SDP with a malformed fingerprint or no ICE password and only fails later,
  // when DTLS or ICE cannot complete; refuse it now instead.
  const fingerprints = lines.filter((line) => line.startsWith('a=fingerprint:'));
  if (fingerprints.length === 0) throw new MediaError('invalid-sdp', `The ${what} has no DTLS fingerprint ("a=fingerprint:" line).`);
  for (const line of fingerprints) {
    if (!/^a=fingerprint:sha-(1|224|256|384|512) [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,}\s*$/.test(line)) {
      throw new MediaError('invalid-sdp', `The ${what} has a malformed DTLS fingerprint: "${line.slice(0, 80)}".`);
    }
  }
  if (!lines.some((line) => line.startsWith('a=ice-ufrag:'))) throw new MediaError('invalid-sdp', `The ${what} has no ICE credentials ("a=ice-ufrag:" line).`);
  if (!lines.some((line) => line.startsWith('a=ice-pwd:'))) throw new MediaError('invalid-sdp', `The ${what} has no ICE password ("a=ice-pwd:" line).`);
  return sdp;
}

/** The media kinds of an SDP's m-lines, in order. */
export function mediaKinds(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.startsWith('m=')).map((line) => line.slice(2).split(' ')[0] ?? '');
}

/**
 * werift has no "announced address" (1:1 NAT) option: for each UDP host candidate we add a copy
 * with the announced IP and the same port, so a browser outside the NAT can reach the port the NAT
 * forwards. The copy's priority is one lower, so a directly reachable host address still wins.
 */
export function announceAddress(sdp: string, announcedIp: string | undefined): string {
  if (!announcedIp) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    out.push(line);
    const match = /^a=candidate:(\S+) (\d+) (udp) (\d+) (\S+) (\d+) typ host(.*)$/i.exec(line);
    if (!match) continue;
    const [, foundation, component, transport, priority, address, port, rest] = match;
    if (address === announcedIp) continue;
    const copy = `a=candidate:${foundation}n ${component} ${transport} ${Number(priority) - 1} ${announcedIp} ${port} typ host${rest}`;
    if (!out.includes(copy) && !sdp.includes(` ${announcedIp} ${port} typ host`)) out.push(copy);
  }
  return out.join(eol);
}

/**
 * A publisher's offer with, in each video section, only the payload type of the first codec in
 * `preference` the browser offers, so werift answers that one codec and the browser cannot switch
 * to another. H.264 counts only with packetization-mode=1 and a baseline profile (profile_idc 42),
 * constrained baseline (42e0..) first: werift would otherwise take the first H.264 line, which in
 * Chromium's offer is plain baseline. A section with none of them is left as it is (werift
 * rejects it). Audio sections are untouched.
 */
export function keepOneVideoCodec(sdp: string, preference: readonly string[]): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    if (!lines[i]!.startsWith('m=video ')) {
      out.push(lines[i]!);
      i++;
      continue;
    }
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith('m=')) end++;
    out.push(...oneCodecSection(lines.slice(i, end), preference));
    i = end;
  }
  return out.join(eol);
}

function oneCodecSection(section: string[], preference: readonly string[]): string[] {
  const rtpmap = new Map<string, string>();
  const fmtp = new Map<string, string>();
  for (const line of section) {
    const map = /^a=rtpmap:(\d+) ([^/\s]+)\/90000/.exec(line);
    if (map) rtpmap.set(map[1]!, map[2]!.toUpperCase());
    const params = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (params) fmtp.set(params[1]!, params[2]!.toLowerCase());
  }
  const h264 = (pt: string) => {
    const params = fmtp.get(pt) ?? '';
    const profile = /profile-level-id=([0-9a-f]{6})/.exec(params)?.[1] ?? '42001f';
    if (!/packetization-mode=1/.test(params) || !profile.startsWith('42')) return -1;
    return profile.startsWith('42e0') ? 2 : 1;
  };
  let chosen: string | undefined;
  for (const codec of preference) {
    const candidates = [...rtpmap].filter(([, name]) => name === codec.toUpperCase()).map(([pt]) => pt);
    chosen = codec.toUpperCase() === 'H264' ? candidates.filter((pt) => h264(pt) > 0).sort((a, b) => h264(b) - h264(a))[0] : candidates[0];
    if (chosen) break;
  }
  if (!chosen) return section;
  const [mline, ...rest] = section;
  const head = mline!.split(' ').slice(0, 3);
  const kept = rest.filter((line) => {
    const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ ]/.exec(line)?.[1];
    return pt === undefined || pt === chosen;
  });
  return [[...head, chosen].join(' '), ...kept];
}

/** The mids of an answer's audio/video sections that were rejected (port 0): e.g. no codec in common. */
export function rejectedMids(sdp: string): string[] {
  const out: string[] = [];
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    if (!/^(audio|video) 0 /.test(section)) continue;
    const mid = /\r?\na=mid:(\S+)/.exec(section)?.[1];
    if (mid !== undefined) out.push(mid);
  }
  return out;
}
