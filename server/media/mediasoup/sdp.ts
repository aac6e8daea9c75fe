// SDP to and from mediasoup's RTP parameters. The browser speaks standard offer/answer (its own
// RTCPeerConnection, the same socket events as on the werift engine); mediasoup speaks
// producers, consumers and transports. What crosses between them is decided here, in plain
// functions with no mediasoup object in them, so every rule is tested on its own:
//
// - a publisher's offer becomes, per m-line, the RTP parameters of one producer (one codec, its
//   RTX, the header extensions both sides know, the SSRCs or the simulcast rids), and our answer;
// - a subscriber's consumers become our offer (ICE-lite, one m-line per consumer, sendonly), and
//   its answer says which m-lines it refused (no decoder for the codec) and its DTLS role.
import sdpTransform, { type MediaDescription, type SessionDescription } from 'sdp-transform';
import type { DtlsParameters, IceCandidate, IceParameters, MediaKind, RouterRtpCapabilities, RtpCodecParameters, RtpEncodingParameters, RtpHeaderExtensionParameters, RtpHeaderExtensionUri, RtpParameters } from 'mediasoup/types';
import { MediaError } from '../errors.ts';
import type { VideoCodec } from '../types.ts';

/** The most simulcast layers a publisher may send (a browser sends three). */
export const MAX_SIMULCAST_LAYERS = 3;
/** The most m-lines one session description may have. */
export const MAX_MEDIA_SECTIONS = 64;

/** What our side of a transport says in SDP. */
export interface LocalTransport {
  ice: IceParameters;
  candidates: IceCandidate[];
  dtls: DtlsParameters;
}

/** One m-line of a publisher's offer, as understood. */
export interface OfferedSection {
  mid: string;
  kind: MediaKind | 'application';
  /** Why it is not received (answered with port 0), if it is not. */
  refused?: string;
  /** Set when it carries a track we receive. */
  rtpParameters?: RtpParameters;
  /** Simulcast: the layers by rid, lowest first as the browser lists them. */
  rids?: string[];
  streamId?: string;
  trackId?: string;
  /** The SSRC (or the rids) that tells one track on this m-line from the next one reusing it. */
  identity: string;
}

export interface PublishOffer {
  sections: OfferedSection[];
  /** The browser's DTLS role once we answer (we take the other), and its fingerprints. */
  dtls: DtlsParameters;
  /** The offer's ICE credentials (a change means the browser restarted ICE). */
  iceUfrag: string;
}

const H264_PARAMETERS = { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } as const;

/** The codecs a room's router takes: Opus, and the video codecs in the order asked. */
export function routerCodecs(video: readonly VideoCodec[]) {
  return [
    { kind: 'audio' as const, mimeType: 'audio/opus', clockRate: 48_000, channels: 2 },
    ...video.map((name) =>
      name === 'H264'
        ? { kind: 'video' as const, mimeType: 'video/H264', clockRate: 90_000, parameters: { ...H264_PARAMETERS } }
        : { kind: 'video' as const, mimeType: 'video/VP8', clockRate: 90_000 },
    ),
  ];
}

/** The capabilities we consume with on a browser's behalf: the router's, less mediasoup's own extensions. */
export function browserCapabilities(router: RouterRtpCapabilities): { codecs: NonNullable<RouterRtpCapabilities['codecs']>; headerExtensions: NonNullable<RouterRtpCapabilities['headerExtensions']> } {
  return {
    codecs: (router.codecs ?? []).map((codec) => ({ ...codec })),
    headerExtensions: (router.headerExtensions ?? []).filter((ext) => !ext.uri.startsWith('urn:mediasoup:')),
  };
}

function parse(sdp: string, what: string): SessionDescription {
  let session: SessionDescription;
  try {
    session = sdpTransform.parse(sdp);
  } catch (error) {
    throw new MediaError('invalid-sdp', `The ${what} could not be read as SDP.`, { cause: error });
  }
  if ((session.media ?? []).length > MAX_MEDIA_SECTIONS) throw new MediaError('invalid-sdp', `The ${what} has ${session.media.length} media sections (at most ${MAX_MEDIA_SECTIONS}).`);
  return session;
}

function fingerprintsOf(session: SessionDescription, what: string): DtlsParameters['fingerprints'] {
  const found = session.fingerprint ?? session.media.find((m) => m.port !== 0 && m.fingerprint)?.fingerprint;
  if (!found) throw new MediaError('invalid-sdp', `The ${what} has no DTLS fingerprint ("a=fingerprint:" line).`);
  const algorithm = found.type.toLowerCase();
  if (!['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'].includes(algorithm) || !/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,}$/.test(found.hash)) {
    throw new MediaError('invalid-sdp', `The ${what} has a malformed DTLS fingerprint.`);
  }
  return [{ algorithm: algorithm as DtlsParameters['fingerprints'][number]['algorithm'], value: found.hash.toUpperCase() }];
}

/** The remote DTLS role once we answer an offer with this setup (we take the other role). */
function offererRole(setup: string | undefined): 'client' | 'server' {
  // actpass (what an offerer must send) or active: the browser is the DTLS client, we are passive.
  return setup === 'passive' ? 'server' : 'client';
}

const fmtpOf = (media: MediaDescription, payload: number) => media.fmtp.find((f) => f.payload === payload)?.config ?? '';

function params(config: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const part of config.split(';')) {
    const [key, value] = part.split('=');
    if (!key?.trim() || value === undefined) continue;
    const trimmed = value.trim();
    out[key.trim()] = /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
  }
  return out;
}

/**
 * The payload type of the first codec in `preference` that the m-line offers: Opus for audio; for
 * video H.264 with packetization-mode 1 in a baseline profile (constrained baseline first: it is
 * what every browser decodes, and a recording copies it), else VP8.
 */
function chooseCodec(media: MediaDescription, kind: MediaKind, preference: readonly VideoCodec[]): RtpCodecParameters | undefined {
  const rtp = media.rtp ?? [];
  if (kind === 'audio') {
    const opus = rtp.find((r) => r.codec.toLowerCase() === 'opus' && r.rate === 48_000);
    if (!opus) return undefined;
    return { mimeType: 'audio/opus', payloadType: opus.payload, clockRate: 48_000, channels: 2, parameters: params(fmtpOf(media, opus.payload)) };
  }
  for (const name of preference) {
    const candidates = rtp.filter((r) => r.codec.toUpperCase() === name && r.rate === 90_000);
    if (name === 'VP8' && candidates[0]) return { mimeType: 'video/VP8', payloadType: candidates[0].payload, clockRate: 90_000, parameters: {} };
    if (name !== 'H264') continue;
    const rank = (payload: number) => {
      const p = params(fmtpOf(media, payload).toLowerCase());
      const profile = String(p['profile-level-id'] ?? '42001f');
      if (Number(p['packetization-mode']) !== 1 || !profile.startsWith('42')) return 0;
      return profile.startsWith('42e0') ? 2 : 1;
    };
    const best = candidates.filter((r) => rank(r.payload) > 0).sort((a, b) => rank(b.payload) - rank(a.payload))[0];
    if (best) return { mimeType: 'video/H264', payloadType: best.payload, clockRate: 90_000, parameters: params(fmtpOf(media, best.payload)) };
  }
  return undefined;
}

const FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc']);

function feedbackFor(media: MediaDescription, payload: number) {
  return (media.rtcpFb ?? [])
    .filter((fb) => String(fb.payload) === String(payload) || fb.payload === '*')
    .map((fb) => ({ type: fb.type, ...(fb.subtype ? { parameter: fb.subtype } : {}) }))
    .filter((fb) => FEEDBACK.has(fb.parameter ? `${fb.type} ${fb.parameter}` : fb.type));
}

/** Reads a publisher's offer: one producer's RTP parameters per m-line that sends audio or video we take. */
export function readPublishOffer(sdp: string, router: RouterRtpCapabilities, preference: readonly VideoCodec[]): PublishOffer {
  const session = parse(sdp, 'publish offer');
  const fingerprints = fingerprintsOf(session, 'publish offer');
  const first = session.media.find((m) => m.port !== 0);
  const iceUfrag = session.iceUfrag ?? first?.iceUfrag;
  const icePwd = session.icePwd ?? first?.icePwd;
  if (!iceUfrag) throw new MediaError('invalid-sdp', 'The publish offer has no ICE credentials ("a=ice-ufrag:" line).');
  if (!icePwd) throw new MediaError('invalid-sdp', 'The publish offer has no ICE password ("a=ice-pwd:" line).');
  const mids = new Set<string>();
  const sections = session.media.map((media, index): OfferedSection => {
    const mid = media.mid !== undefined ? String(media.mid) : '';
    if (!mid || mids.has(mid)) throw new MediaError('invalid-sdp', `The publish offer's media section ${index + 1} has ${mid ? `the same mid ("${mid}") as another` : 'no mid'}.`);
    mids.add(mid);
    const kind = media.type === 'audio' || media.type === 'video' ? media.type : 'application';
    const section = (refused: string): OfferedSection => ({ mid, kind, refused, identity: '' });
    if (kind === 'application') return section('data channels are not used');
    if (media.port === 0) return section('stopped by the browser');
    const direction = media.direction ?? session.direction ?? 'sendrecv';
    if (direction !== 'sendonly' && direction !== 'sendrecv') return section('it sends nothing');
    const codec = chooseCodec(media, kind, preference);
    if (!codec) return section(`no codec the server takes (${kind === 'audio' ? 'Opus' : preference.join(' or ')})`);
    const codecs: RtpCodecParameters[] = [{ ...codec, rtcpFeedback: feedbackFor(media, codec.payloadType) }];
    const rtx = (media.rtp ?? []).find((r) => r.codec.toLowerCase() === 'rtx' && Number(params(fmtpOf(media, r.payload)).apt) === codec.payloadType);
    if (rtx && kind === 'video') codecs.push({ mimeType: 'video/rtx', payloadType: rtx.payload, clockRate: 90_000, parameters: { apt: codec.payloadType }, rtcpFeedback: [] });
    const known = new Set((router.headerExtensions ?? []).filter((e) => e.kind === kind && e.direction !== 'sendonly' && e.direction !== 'inactive').map((e) => e.uri));
    const headerExtensions: RtpHeaderExtensionParameters[] = (media.ext ?? []).filter((e) => known.has(e.uri as RtpHeaderExtensionUri)).map((e) => ({ uri: e.uri as RtpHeaderExtensionUri, id: e.value }));
    const encodings = encodingsOf(media, mid);
    const cname = (media.ssrcs ?? []).find((s) => s.attribute === 'cname')?.value;
    const msid = media.msid?.[0] ?? msidFromSsrc(media);
    const rids = encodings.every((e) => e.rid) ? encodings.map((e) => e.rid!) : undefined;
    const rtpParameters: RtpParameters = { mid, codecs, headerExtensions, encodings, rtcp: { ...(cname ? { cname } : {}), reducedSize: media.rtcpRsize === 'rtcp-rsize' } };
    return {
      mid,
      kind,
      rtpParameters,
      ...(rids ? { rids } : {}),
      ...(msid?.id && msid.id !== '-' ? { streamId: msid.id } : {}),
      ...(msid?.appdata ? { trackId: msid.appdata } : {}),
      identity: rids ? `rid:${rids.join(',')}:${msid?.appdata ?? ''}` : `ssrc:${encodings[0]!.ssrc}`,
    };
  });
  return { sections, dtls: { role: offererRole(session.setup ?? first?.setup), fingerprints }, iceUfrag };
}

function msidFromSsrc(media: MediaDescription): { id: string; appdata?: string } | undefined {
  const value = (media.ssrcs ?? []).find((s) => s.attribute === 'msid')?.value;
  if (!value) return undefined;
  const [id, appdata] = value.split(' ');
  return id ? { id, ...(appdata ? { appdata } : {}) } : undefined;
}

/** The encodings a m-line sends: simulcast rids, or its SSRC (and its RTX SSRC). */
function encodingsOf(media: MediaDescription, mid: string): RtpEncodingParameters[] {
  const sendRids = (media.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id));
  if (sendRids.length > 0 || media.simulcast) {
    if (media.type !== 'video') throw new MediaError('invalid-sdp', `The publish offer's audio section "${mid}" asks for simulcast.`);
    const listed = media.simulcast?.dir1 === 'send' ? media.simulcast.list1 : media.simulcast?.dir2 === 'send' ? media.simulcast.list2 : undefined;
    if (!listed) throw new MediaError('invalid-sdp', `The publish offer's section "${mid}" has rids but no "a=simulcast:send" line.`);
    const layers = listed.split(';').map((alternatives) => alternatives.split(',')[0]!.replace(/^~/, ''));
    if (layers.length > MAX_SIMULCAST_LAYERS) throw new MediaError('invalid-sdp', `The publish offer's section "${mid}" asks for ${layers.length} simulcast layers (at most ${MAX_SIMULCAST_LAYERS}).`);
    if (new Set(layers).size !== layers.length || layers.some((rid) => !sendRids.includes(rid) || !/^[A-Za-z0-9_-]{1,16}$/.test(rid))) {
      throw new MediaError('invalid-sdp', `The publish offer's section "${mid}" lists simulcast layers that its "a=rid" lines do not declare.`);
    }
    return layers.map((rid) => ({ rid }));
  }
  const ssrcs = [...new Set((media.ssrcs ?? []).map((s) => s.id))].map(Number);
  if (ssrcs.length === 0) throw new MediaError('invalid-sdp', `The publish offer's section "${mid}" names no SSRC ("a=ssrc:" line) and no simulcast layers.`);
  const fid = (media.ssrcGroups ?? []).find((g) => g.semantics === 'FID')?.ssrcs.split(' ').map(Number);
  const ssrc = fid?.[0] ?? ssrcs[0]!;
  if (!Number.isInteger(ssrc) || ssrc <= 0 || ssrc > 0xffffffff) throw new MediaError('invalid-sdp', `The publish offer's section "${mid}" has an invalid SSRC.`);
  const rtx = fid?.[1];
  return [{ ssrc, ...(rtx && Number.isInteger(rtx) && rtx > 0 && rtx <= 0xffffffff ? { rtx: { ssrc: rtx } } : {}) }];
}

/** One m-line we answer with: its offered section, and whether (and how) we receive it. */
export interface AnsweredSection {
  offered: OfferedSection;
  /** The producer's parameters as given to mediasoup (absent: refused, port 0). */
  rtpParameters?: RtpParameters;
}

/** Our answer to a publisher's offer: ICE-lite, one transport bundled, recvonly for each track taken. */
export function writePublishAnswer(offer: PublishOffer, sections: AnsweredSection[], local: LocalTransport, version: number): string {
  const bundled = sections.filter((s) => s.rtpParameters).map((s) => s.offered.mid);
  const ownRole = offer.dtls.role === 'client' ? 'passive' : 'active';
  const media = sections.map(({ offered, rtpParameters }): MediaDescription => {
    if (!rtpParameters || offered.kind === 'application') return rejected(offered.mid, offered.kind);
    const out = liveSection(local, ownRole, offered.kind, offered.mid, 'recvonly', rtpParameters);
    if (offered.rids) {
      out.rids = offered.rids.map((id) => ({ id, direction: 'recv' }));
      out.simulcast = { dir1: 'recv', list1: offered.rids.join(';') };
    }
    return out;
  });
  return write(media, bundled, version);
}

/** One m-line of a subscriber's session: a consumer we send, or a place once used and now closed. */
export interface SubscriberSection {
  mid: string;
  kind: MediaKind;
  /** The consumer's parameters, when the m-line carries a track; absent once it was closed. */
  rtpParameters?: RtpParameters;
  /** The msid: stream and track ids, as the browser's ontrack sees them. */
  streamId?: string;
  trackId?: string;
}

/** Our offer to a subscriber: ICE-lite, every m-line bundled, sendonly for each consumer. */
export function writeSubscribeOffer(sections: SubscriberSection[], local: LocalTransport, version: number): string {
  // The first m-line tags the bundle: it never goes to port 0 (it becomes inactive instead).
  const tag = sections[0]?.mid;
  const bundled = sections.filter((s) => s.rtpParameters || s.mid === tag).map((s) => s.mid);
  const media = sections.map((section): MediaDescription => {
    const { rtpParameters } = section;
    if (!rtpParameters) {
      return section.mid === tag ? liveSection(local, 'actpass', section.kind, section.mid, 'inactive') : rejected(section.mid, section.kind);
    }
    const encoding = rtpParameters.encodings?.[0];
    const cname = rtpParameters.rtcp?.cname ?? 'live-classroom';
    const msid = `${section.streamId ?? '-'} ${section.trackId ?? section.mid}`;
    const out = liveSection(local, 'actpass', section.kind, section.mid, 'sendonly', rtpParameters);
    out.msid = [{ id: section.streamId ?? '-', appdata: section.trackId ?? section.mid }];
    if (encoding?.ssrc) {
      out.ssrcs = [
        { id: encoding.ssrc, attribute: 'cname', value: cname },
        { id: encoding.ssrc, attribute: 'msid', value: msid },
      ];
      if (encoding.rtx?.ssrc) {
        out.ssrcs.push({ id: encoding.rtx.ssrc, attribute: 'cname', value: cname }, { id: encoding.rtx.ssrc, attribute: 'msid', value: msid });
        out.ssrcGroups = [{ semantics: 'FID', ssrcs: `${encoding.ssrc} ${encoding.rtx.ssrc}` }];
      }
    }
    return out;
  });
  return write(media, bundled, version);
}

export interface SubscribeAnswer {
  /** The browser's DTLS role and fingerprints. */
  dtls: DtlsParameters;
  /** The mids the browser refused (port 0): it cannot decode the codec. */
  refused: Set<string>;
  /** The mids it answered. */
  mids: Set<string>;
}

/** Reads a subscriber's answer to our offer. */
export function readSubscribeAnswer(sdp: string): SubscribeAnswer {
  const session = parse(sdp, 'subscribe answer');
  const refused = new Set<string>();
  const mids = new Set<string>();
  for (const media of session.media) {
    const mid = media.mid !== undefined ? String(media.mid) : undefined;
    if (mid === undefined) throw new MediaError('invalid-sdp', 'The subscribe answer has a media section with no mid.');
    mids.add(mid);
    if (media.port === 0 && media.type !== 'application') refused.add(mid);
  }
  const live = session.media.some((m) => m.port !== 0);
  const setup = session.setup ?? session.media.find((m) => m.port !== 0)?.setup;
  const fingerprints = live ? fingerprintsOf(session, 'subscribe answer') : [];
  // Our offer says actpass: "active" makes the browser the DTLS client, "passive" the server.
  return { dtls: { role: setup === 'passive' ? 'server' : 'client', fingerprints }, refused, mids };
}

/**
 * An m-line on our one bundled transport (ICE-lite, RTCP multiplexed): the codecs and header
 * extensions of `rtp`, or, without them, a placeholder codec (an inactive m-line keeps its place).
 */
function liveSection(local: LocalTransport, setup: string, kind: MediaKind, mid: string, direction: 'recvonly' | 'sendonly' | 'inactive', rtp?: RtpParameters): MediaDescription {
  return {
    ...transportLines(local, setup),
    type: kind,
    port: 7,
    protocol: 'UDP/TLS/RTP/SAVPF',
    connection: { version: 4, ip: '127.0.0.1' },
    mid,
    direction,
    rtcpMux: 'rtcp-mux',
    rtcpRsize: 'rtcp-rsize',
    ...(rtp ? { ...codecLines(rtp.codecs), ext: (rtp.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })) } : placeholderCodec(kind)),
  };
}

function transportLines(local: LocalTransport, setup: string): Partial<MediaDescription> {
  const fingerprint = local.dtls.fingerprints.find((f) => f.algorithm === 'sha-256') ?? local.dtls.fingerprints[0];
  return {
    ...(fingerprint ? { fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value } } : {}),
    iceUfrag: local.ice.usernameFragment,
    icePwd: local.ice.password,
    candidates: local.candidates.map((c) => ({ foundation: c.foundation, component: 1, transport: c.protocol, priority: c.priority, ip: c.address ?? c.ip, port: c.port, type: c.type, ...(c.tcpType ? { tcptype: c.tcpType } : {}) })),
    endOfCandidates: 'end-of-candidates',
    iceOptions: 'renomination',
    setup,
  };
}

function codecLines(codecs: RtpCodecParameters[]): Pick<MediaDescription, 'rtp' | 'fmtp' | 'rtcpFb' | 'payloads'> {
  const rtp: MediaDescription['rtp'] = [];
  const fmtp: MediaDescription['fmtp'] = [];
  const rtcpFb: NonNullable<MediaDescription['rtcpFb']> = [];
  for (const codec of codecs) {
    const name = codec.mimeType.split('/')[1]!;
    rtp.push({ payload: codec.payloadType, codec: name, rate: codec.clockRate, ...(codec.channels && codec.channels > 1 ? { encoding: codec.channels } : {}) });
    const config = Object.entries(codec.parameters ?? {}).map(([key, value]) => `${key}=${String(value)}`).join(';');
    if (config) fmtp.push({ payload: codec.payloadType, config });
    for (const fb of codec.rtcpFeedback ?? []) rtcpFb.push({ payload: codec.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) });
  }
  return { rtp, fmtp, rtcpFb, payloads: codecs.map((c) => c.payloadType).join(' ') };
}

function placeholderCodec(kind: MediaKind) {
  return codecLines([kind === 'audio' ? { mimeType: 'audio/opus', payloadType: 100, clockRate: 48_000, channels: 2 } : { mimeType: 'video/VP8', payloadType: 101, clockRate: 90_000 }]);
}

function rejected(mid: string, kind: MediaKind | 'application'): MediaDescription {
  if (kind === 'application') return { type: 'application', port: 0, protocol: 'UDP/DTLS/SCTP', payloads: 'webrtc-datachannel', connection: { version: 4, ip: '127.0.0.1' }, mid, rtp: [], fmtp: [] };
  return { type: kind, port: 0, protocol: 'UDP/TLS/RTP/SAVPF', connection: { version: 4, ip: '127.0.0.1' }, mid, direction: 'inactive', ...placeholderCodec(kind) };
}

function write(media: MediaDescription[], bundled: string[], version: number): string {
  const session: SessionDescription = {
    version: 0,
    origin: { username: 'live-classroom', sessionId: 1, sessionVersion: version, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    msidSemantic: { semantic: 'WMS', token: '*' },
    ...(bundled.length > 0 ? { groups: [{ type: 'BUNDLE', mids: bundled.join(' ') }] } : {}),
    media,
  };
  return sdpTransform.write(session);
}
