// The live class's media signaling: the widget's media:* events go to the SFU (server/media), and
// the SFU's offers and failures go back to the right browser tab. A participant in the SFU is one
// tab (`userId/clientId`), so two tabs of the same student never share a connection; a tab that
// lost its socket keeps its media for a grace period, so a network blip costs nothing.
import { createHmac } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { MediaError, type MediaServer, type PublishedTrackInfo, type SubscribedTrackInfo } from '../media/index.ts';
import type { IceServerInfo, MediaSource, MediaState, StageTrack } from '../protocol/index.ts';

/** The part of a socket the media signaling needs. */
export interface MediaSeat {
  readonly id: string;
  readonly data: { userId: string; roomId: string; name: string; client: string; grant: string };
  emit(event: 'media:offer', state: { sdp: string; tracks: StageTrack[] }): unknown;
  emit(event: 'media:failed', state: { side: 'publisher' | 'subscriber'; reason: string }): unknown;
}

export interface MediaSignalingOptions {
  media: MediaServer;
  logger: Logger;
  /** STUN/TURN for browsers; TURN credentials are minted per user with `turnSecret` (TURN REST scheme). */
  turn: { urls: string[]; secret: string | undefined };
  /** Most receiving connections on this node; hosts are always served. */
  maxSubscribers: number;
  /** How long a tab's media outlives its socket (a network blip). */
  graceMs: number;
  /** Tells the room someone's media state changed. */
  broadcastState: (roomId: string, state: MediaState) => void;
}

/** TURN credentials live this long (coturn checks the expiry in the user name). */
const TURN_CREDENTIAL_SECONDS = 12 * 3600;

export class SignalingError extends Error {}

export interface PublishedTrackView {
  id: string;
  kind: 'audio' | 'video';
  source: MediaSource;
  host: boolean;
}

interface Tab {
  /** The SFU's participant id: `${userId}/${client}`. */
  id: string;
  seat: MediaSeat;
  roomId: string;
  userId: string;
  name: string;
  /** The publisher's track ids and what each one is. */
  sources: Record<string, MediaSource>;
  state: MediaState;
  leaveTimer?: NodeJS.Timeout;
}

export class MediaSignaling {
  readonly #options: MediaSignalingOptions;
  /** By `${roomId}\n${userId}/${client}`. */
  readonly #tabs = new Map<string, Tab>();

  constructor(options: MediaSignalingOptions) {
    this.#options = options;
    const { media, logger } = options;
    media.on('renegotiate', ({ roomId, userId, offerSdp, tracks }) => {
      const tab = this.#tabs.get(tabKey(roomId, userId));
      tab?.seat.emit('media:offer', { sdp: offerSdp, tracks: this.#stageTracks(roomId, tracks) });
    });
    media.on('failure', ({ roomId, userId, role, error }) => {
      const tab = this.#tabs.get(tabKey(roomId, userId));
      logger.info({ room: roomId, user: tab?.userId, participant: userId, side: role, reason: error.message }, 'media connection failed');
      if (!tab) return;
      if (role === 'publisher') this.#setState(tab, { camera: false, microphone: false, screen: false });
      tab.seat.emit('media:failed', { side: role ?? 'subscriber', reason: spoken(error, role ?? 'subscriber') });
    });
    media.on('worker-exit', ({ worker, threadId, exitCode, error, subscribers, restartInMs }) => {
      logger.error({ worker, thread: threadId, exitCode, error, subscribers, restartInMs }, `media worker ${worker} (thread ${threadId}) stopped with exit code ${exitCode}; its ${subscribers} receiving connections reconnect, a fresh worker takes its place`);
    });
    media.on('codec-refused', ({ roomId, userId, trackId, codec }) => {
      logger.warn({ room: roomId, participant: userId, track: trackId, codec }, `a browser cannot decode ${codec} video, so it does not get this track (MEDIA_VIDEO_CODECS can put VP8 first)`);
    });
  }

  /** STUN/TURN servers for this user's browser, with TURN REST credentials when a secret is set. */
  iceServers(userId: string): IceServerInfo[] {
    const { urls, secret } = this.#options.turn;
    if (urls.length === 0) return [];
    const stun = urls.filter((u) => u.startsWith('stun:'));
    const turn = urls.filter((u) => !u.startsWith('stun:'));
    const out: IceServerInfo[] = [];
    if (stun.length > 0) out.push({ urls: stun });
    if (turn.length > 0 && secret) {
      const username = `${Math.floor(Date.now() / 1000) + TURN_CREDENTIAL_SECONDS}:${userId}`;
      out.push({ urls: turn, username, credential: createHmac('sha1', secret).update(username).digest('base64') });
    }
    return out;
  }

  /** A tab (re)connected: it keeps whatever media it had. */
  attach(seat: MediaSeat): void {
    const key = tabKey(seat.data.roomId, participant(seat));
    const tab = this.#tabs.get(key);
    if (!tab) return;
    clearTimeout(tab.leaveTimer);
    tab.leaveTimer = undefined;
    tab.seat = seat;
  }

  /** The socket is gone: the tab's media goes after the grace period, or now if `now`. */
  detach(seat: MediaSeat, now = false): void {
    const id = participant(seat);
    const key = tabKey(seat.data.roomId, id);
    const tab = this.#tabs.get(key);
    if (!tab || tab.seat !== seat) return;
    clearTimeout(tab.leaveTimer);
    const leave = () => void this.#leave(key, tab);
    if (now) leave();
    else {
      tab.leaveTimer = setTimeout(leave, this.#options.graceMs);
      tab.leaveTimer.unref();
    }
  }

  async publish(seat: MediaSeat, offerSdp: string, sources: Record<string, MediaSource>, restart: boolean): Promise<string> {
    const { roomId } = seat.data;
    if (seat.data.grant !== 'host' && seat.data.grant !== 'speaker') throw new SignalingError('only the instructor and participants brought on stage can share camera, microphone or screen');
    const tab = this.#tab(seat);
    tab.sources = { ...sources };
    const id = participant(seat);
    if (restart) await this.#options.media.unpublish(roomId, id);
    const answer = await this.#media(() => this.#options.media.publish(roomId, id, offerSdp)).catch((error: unknown) => {
      this.#forgetIfIdle(seat);
      throw error;
    });
    const on = new Set(Object.values(sources));
    this.#setState(tab, { camera: on.has('camera'), microphone: on.has('microphone'), screen: on.has('screen') });
    return answer;
  }

  async unpublish(seat: MediaSeat): Promise<void> {
    const tab = this.#tabs.get(tabKey(seat.data.roomId, participant(seat)));
    await this.#options.media.unpublish(seat.data.roomId, participant(seat));
    if (tab) this.#setState(tab, { camera: false, microphone: false, screen: false });
  }

  /**
   * The receiving connection's offer. `created`: the server made a new connection (the browser
   * must make a new one too); `publishing`: the server still has this tab's sending connection.
   */
  async subscribe(seat: MediaSeat, restart: boolean): Promise<{ sdp: string; tracks: StageTrack[]; created: boolean; publishing: boolean }> {
    const { roomId } = seat.data;
    const id = participant(seat);
    const { media } = this.#options;
    if (restart) await media.unsubscribe(roomId, id);
    const existing = media.findRoom(roomId)?.has(id).subscriber ?? false;
    if (!existing && seat.data.grant !== 'host' && media.stats().subscribers >= this.#options.maxSubscribers) {
      throw new SignalingError(`this Live Classroom server is serving as many viewers as it can (${this.#options.maxSubscribers}); try again in a few minutes, or ask your institution to add capacity`);
    }
    this.#tab(seat);
    const sdp = await this.#media(() => media.subscribe(roomId, id)).catch((error: unknown) => {
      this.#forgetIfIdle(seat);
      throw error;
    });
    const room = media.findRoom(roomId);
    return { sdp, tracks: this.#stageTracks(roomId, room?.subscribedTracks(id) ?? []), created: !existing, publishing: room?.has(id).publisher ?? false };
  }

  async answer(seat: MediaSeat, answerSdp: string): Promise<void> {
    if (!this.#options.media.findRoom(seat.data.roomId)?.has(participant(seat)).subscriber) throw new SignalingError('there is no offer to answer: ask for one with media:subscribe');
    await this.#media(() => this.#options.media.acceptAnswer(seat.data.roomId, participant(seat), answerSdp));
  }

  /** The publisher switched a track on or off without renegotiating (track.enabled). */
  state(seat: MediaSeat, state: Pick<MediaState, 'camera' | 'microphone' | 'screen'>): void {
    const tab = this.#tabs.get(tabKey(seat.data.roomId, participant(seat)));
    if (!tab || !this.#options.media.findRoom(seat.data.roomId)?.has(participant(seat)).publisher) throw new SignalingError('you are not sending any media');
    this.#setState(tab, state);
  }

  /** Everyone publishing in the room now, for a newcomer. */
  states(roomId: string): MediaState[] {
    const out: MediaState[] = [];
    for (const tab of this.#tabs.values()) if (tab.roomId === roomId && (tab.state.camera || tab.state.microphone || tab.state.screen)) out.push({ ...tab.state });
    return out;
  }

  /** The room's published tracks: what each is and whether a host sends it (for the recorder). */
  publishedTracks(roomId: string): PublishedTrackView[] {
    return (this.#options.media.findRoom(roomId)?.tracks() ?? []).map((t) => {
      const tab = this.#tabs.get(tabKey(roomId, t.userId));
      return { id: t.id, kind: t.kind, source: sourceOf(t, tab), host: tab?.seat.data.grant === 'host' };
    });
  }

  /** May no longer publish (taken off stage): stop every tab of the user. */
  async stopPublishing(roomId: string, userId: string): Promise<void> {
    for (const tab of this.#tabs.values()) {
      if (tab.roomId !== roomId || tab.userId !== userId) continue;
      await this.#options.media.unpublish(roomId, tab.id);
      this.#setState(tab, { camera: false, microphone: false, screen: false });
    }
  }

  /** The class ended: every connection of the room closes. */
  async closeRoom(roomId: string): Promise<void> {
    for (const [key, tab] of this.#tabs) {
      if (tab.roomId !== roomId) continue;
      clearTimeout(tab.leaveTimer);
      this.#tabs.delete(key);
    }
    await this.#options.media.findRoom(roomId)?.close();
  }

  async close(): Promise<void> {
    for (const tab of this.#tabs.values()) clearTimeout(tab.leaveTimer);
    this.#tabs.clear();
    await this.#options.media.close();
  }

  /** For tests and metrics: tabs with media (or waiting out their grace period). */
  counts(): { tabs: number } {
    return { tabs: this.#tabs.size };
  }

  #tab(seat: MediaSeat): Tab {
    const key = tabKey(seat.data.roomId, participant(seat));
    let tab = this.#tabs.get(key);
    if (!tab) {
      const { userId, roomId, name } = seat.data;
      tab = { id: participant(seat), seat, roomId, userId, name, sources: {}, state: { userId, name, camera: false, microphone: false, screen: false } };
      this.#tabs.set(key, tab);
    }
    tab.seat = seat;
    return tab;
  }

  /** After a refusal: a tab with no connection left on the server is not kept. */
  #forgetIfIdle(seat: MediaSeat): void {
    const id = participant(seat);
    const has = this.#options.media.findRoom(seat.data.roomId)?.has(id);
    if (has?.publisher || has?.subscriber) return;
    const key = tabKey(seat.data.roomId, id);
    const tab = this.#tabs.get(key);
    if (tab?.seat === seat && !tab.leaveTimer) this.#tabs.delete(key);
  }

  async #leave(key: string, tab: Tab): Promise<void> {
    if (this.#tabs.get(key) !== tab) return;
    this.#tabs.delete(key);
    clearTimeout(tab.leaveTimer);
    const published = tab.state.camera || tab.state.microphone || tab.state.screen;
    await this.#options.media.leave(tab.roomId, tab.id).catch((error: unknown) => this.#options.logger.warn({ err: error, room: tab.roomId, user: tab.userId }, 'closing media failed'));
    if (published) this.#options.broadcastState(tab.roomId, { userId: tab.userId, name: tab.name, camera: false, microphone: false, screen: false });
  }

  #setState(tab: Tab, on: Pick<MediaState, 'camera' | 'microphone' | 'screen'>): void {
    const next = { userId: tab.userId, name: tab.name, camera: on.camera, microphone: on.microphone, screen: on.screen };
    const s = tab.state;
    tab.state = next;
    if (s.camera !== next.camera || s.microphone !== next.microphone || s.screen !== next.screen) this.#options.broadcastState(tab.roomId, next);
  }

  #stageTracks(roomId: string, tracks: SubscribedTrackInfo[]): StageTrack[] {
    return tracks.map((track) => {
      const tab = this.#tabs.get(tabKey(roomId, track.userId));
      const source = sourceOf(track, tab);
      return { mid: track.mid, userId: tab?.userId ?? track.userId.split('/')[0] ?? '', name: tab?.name ?? '', kind: track.kind, source };
    });
  }

  /** Media refusals reach the browser in words for it (the media module's own text, with its ids and causes, goes to the log); anything else is ours. */
  async #media<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof MediaError)) throw error;
      if (error.cause !== undefined) this.#options.logger.info({ err: error.cause, code: error.code }, `media refused: ${error.message}`);
      throw new SignalingError(spoken(error));
    }
  }
}

/**
 * What a participant is told of a media refusal. The SDP checks (sdp.ts, and the media module's
 * own checks of what was offered) describe the participant's own session description and are
 * told as they are; a library's exception, ids and internal states are not.
 */
export function spoken(error: MediaError, side?: 'publisher' | 'subscriber'): string {
  const sentence = (text: string) => text.replace(/^The /, 'the ').replace(/\.$/, '');
  switch (error.code) {
    case 'invalid-sdp':
      return error.cause === undefined ? sentence(error.message) : 'the media server could not use this session description';
    case 'wrong-state':
      return 'there is no offer waiting for this answer: ask for a fresh one with media:subscribe';
    case 'not-found':
      return 'you have no media connection for this: ask for one with media:subscribe or media:publish';
    case 'closed':
      return 'the media connection closed before the negotiation finished: try again';
    case 'timeout': {
      const seconds = /within (\d+) s/.exec(error.message)?.[1];
      return `your ${side === 'publisher' ? 'sending' : 'receiving'} connection did not connect${seconds ? ` within ${seconds} s` : ''} (ICE or DTLS never completed), so it was closed`;
    }
  }
}

/** What a published track is, as its publisher said (a microphone or camera if it did not). */
function sourceOf(track: PublishedTrackInfo, tab: Tab | undefined): MediaSource {
  return (track.trackId && tab?.sources[track.trackId]) || (track.kind === 'audio' ? 'microphone' : 'camera');
}

/** The SFU's participant id of a tab. */
function participant(seat: MediaSeat): string {
  return `${seat.data.userId}/${seat.data.client}`;
}

function tabKey(roomId: string, participantId: string): string {
  return `${roomId}\n${participantId}`;
}
