// A class's media: each tab's sending and receiving connections in the SFU (server/media), what
// each publisher has switched on, and the offers and failures that go back to the right tab. A tab
// is one participant's browser tab (`userId/client`): two tabs of one student never share a
// connection, and a tab that lost its socket keeps its media for a grace period, so a network
// blip costs nothing. The class owns this; it closes with the class.
import type { Logger } from '../logger/index.ts';
import { MediaError, type MediaEngine, type MediaRoomView, type PublishedTrackInfo, type SubscribedTrackInfo } from '../media/index.ts';
import type { MediaSource, MediaState, StageTrack } from '../protocol/index.ts';
import { ClassRefusal } from './errors.ts';
import type { Participant } from './participant.ts';
import type { StageSource } from './ports.ts';

export interface ClassMediaOptions {
  roomId: string;
  media: MediaEngine;
  logger: Logger;
  /** Most receiving connections on this node; hosts are always served. */
  maxSubscribers: number;
  /** How long a tab's media outlives its socket (a network blip). */
  graceMs: number;
  /** Tells the room someone's media state changed. */
  broadcastState: (state: MediaState) => void;
  /** The published tracks changed (the recorder follows the stage), or a tab's media is gone (the class may be empty). */
  changed: () => void;
}

interface Tab {
  /** The tab's current participant (the newest connection of the tab). */
  participant: Participant;
  /** The publisher's track ids and what each one is. */
  sources: Record<string, MediaSource>;
  state: MediaState;
  leaveTimer?: NodeJS.Timeout;
}

const OFF = { camera: false, microphone: false, screen: false } as const;

export class ClassMedia {
  readonly #options: ClassMediaOptions;
  /** By the tab's media id (`userId/client`). */
  readonly #tabs = new Map<string, Tab>();
  #closed = false;

  constructor(options: ClassMediaOptions) {
    this.#options = options;
  }

  /** Whether a connection can be kept with an ICE restart (the engine's choice). */
  get iceRestart(): boolean {
    return this.#options.media.iceRestart;
  }

  /** Whether publishers may send their camera in simulcast layers (the engine's choice). */
  get simulcast(): boolean {
    return this.#options.media.simulcast;
  }

  /** Tabs with media here, or waiting out their grace period. */
  get tabs(): number {
    return this.#tabs.size;
  }

  #room(): MediaRoomView | undefined {
    return this.#options.media.findRoom(this.#options.roomId);
  }

  /** A tab (re)connected: it keeps whatever media it had. */
  attach(participant: Participant): void {
    const tab = this.#tabs.get(participant.mediaId);
    if (!tab) return;
    clearTimeout(tab.leaveTimer);
    tab.leaveTimer = undefined;
    tab.participant = participant;
  }

  /** The participant left: its media goes after the grace period, or now if `now` (removed, or the class closed). */
  detach(participant: Participant, now: boolean): void {
    const tab = this.#tabs.get(participant.mediaId);
    if (!tab || tab.participant !== participant) return;
    clearTimeout(tab.leaveTimer);
    const leave = () => void this.#leave(participant.mediaId, tab);
    if (now) return leave();
    tab.leaveTimer = setTimeout(leave, this.#options.graceMs);
    tab.leaveTimer.unref();
  }

  async publish(participant: Participant, offerSdp: string, sources: Record<string, MediaSource>, restart: boolean): Promise<string> {
    if (!participant.onStage) throw new ClassRefusal('only the instructor and participants brought on stage can share camera, microphone or screen');
    const tab = this.#tab(participant);
    tab.sources = { ...sources };
    const { media, roomId } = this.#options;
    if (restart) await media.unpublish(roomId, participant.mediaId);
    const answer = await this.#media(() => media.publish(roomId, participant.mediaId, offerSdp)).catch((error: unknown) => {
      this.#forgetIfIdle(participant);
      throw error;
    });
    const on = new Set(Object.values(sources));
    this.#setState(tab, { camera: on.has('camera'), microphone: on.has('microphone'), screen: on.has('screen') });
    return answer;
  }

  async unpublish(participant: Participant): Promise<void> {
    await this.#options.media.unpublish(this.#options.roomId, participant.mediaId);
    const tab = this.#tabs.get(participant.mediaId);
    if (tab) this.#setState(tab, OFF);
  }

  /**
   * The receiving connection's offer. `created`: the server made a new connection (the browser
   * must make a new one too); `publishing`: the server still has this tab's sending connection.
   */
  async subscribe(participant: Participant, restart: boolean, iceRestart = false): Promise<{ sdp: string; tracks: StageTrack[]; created: boolean; publishing: boolean }> {
    const { media, roomId, maxSubscribers } = this.#options;
    const id = participant.mediaId;
    if (restart) await media.unsubscribe(roomId, id);
    const existing = this.#room()?.has(id).subscriber ?? false;
    if (!existing && participant.grant !== 'host' && media.stats().subscribers >= maxSubscribers) {
      throw new ClassRefusal(`this Live Classroom server is serving as many viewers as it can (${maxSubscribers}); try again in a few minutes, or ask your institution to add capacity`);
    }
    this.#tab(participant);
    const sdp = await this.#media(() => media.subscribe(roomId, id, { iceRestart: iceRestart && existing })).catch((error: unknown) => {
      this.#forgetIfIdle(participant);
      throw error;
    });
    const room = this.#room();
    return { sdp, tracks: this.#stageTracks(room?.subscribedTracks(id) ?? []), created: !existing, publishing: room?.has(id).publisher ?? false };
  }

  async answer(participant: Participant, answerSdp: string): Promise<void> {
    if (!this.#room()?.has(participant.mediaId).subscriber) throw new ClassRefusal('there is no offer to answer: ask for one with media:subscribe');
    await this.#media(() => this.#options.media.acceptAnswer(this.#options.roomId, participant.mediaId, answerSdp));
  }

  /** The publisher switched a track on or off without renegotiating (track.enabled). */
  setState(participant: Participant, state: Pick<MediaState, 'camera' | 'microphone' | 'screen'>): void {
    const tab = this.#tabs.get(participant.mediaId);
    if (!tab || !this.#room()?.has(participant.mediaId).publisher) throw new ClassRefusal('you are not sending any media');
    this.#setState(tab, state);
  }

  /** Everyone publishing now, for a newcomer. */
  states(): MediaState[] {
    return [...this.#tabs.values()].filter((tab) => tab.state.camera || tab.state.microphone || tab.state.screen).map((tab) => ({ ...tab.state }));
  }

  /** The published tracks: what each is and whether a host sends it (for the recorder). */
  stage(): StageSource[] {
    return (this.#room()?.tracks() ?? []).map((track) => {
      const tab = this.#tabs.get(track.userId);
      return { id: track.id, kind: track.kind, source: sourceOf(track, tab), host: tab?.participant.grant === 'host' };
    });
  }

  /** May no longer publish (taken off stage): stop every tab of the user. */
  async stopPublishing(userId: string): Promise<void> {
    for (const [id, tab] of this.#tabs) {
      if (tab.participant.userId !== userId) continue;
      await this.#options.media.unpublish(this.#options.roomId, id);
      this.#setState(tab, OFF);
    }
  }

  /** The SFU made a new offer for a tab's receiving connection (what is on stage changed). */
  renegotiated(mediaId: string, offerSdp: string, tracks: SubscribedTrackInfo[]): void {
    this.#tabs.get(mediaId)?.participant.emit('media:offer', { sdp: offerSdp, tracks: this.#stageTracks(tracks) });
  }

  /** The SFU closed one of a tab's connections (it never connected, or a renegotiation failed): the tab makes a fresh one. */
  failed(mediaId: string, side: 'publisher' | 'subscriber', error: MediaError): void {
    const tab = this.#tabs.get(mediaId);
    this.#options.logger.info({ user: tab?.participant.userId, participant: mediaId, side, reason: error.message }, 'media connection failed');
    if (!tab) return;
    if (side === 'publisher') this.#setState(tab, OFF);
    tab.participant.emit('media:failed', { side, reason: spoken(error, side) });
  }

  /** Closes every connection of the class (it ended, or leaves this node). Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const tab of this.#tabs.values()) clearTimeout(tab.leaveTimer);
    this.#tabs.clear();
    await this.#room()?.close();
  }

  #tab(participant: Participant): Tab {
    if (this.#closed) throw new ClassRefusal('the class has ended');
    let tab = this.#tabs.get(participant.mediaId);
    if (!tab) {
      const { userId, name } = participant;
      tab = { participant, sources: {}, state: { userId, name, ...OFF } };
      this.#tabs.set(participant.mediaId, tab);
    }
    tab.participant = participant;
    return tab;
  }

  /** After a refusal: a tab with no connection left on the server is not kept. */
  #forgetIfIdle(participant: Participant): void {
    const has = this.#room()?.has(participant.mediaId);
    if (has?.publisher || has?.subscriber) return;
    const tab = this.#tabs.get(participant.mediaId);
    if (tab?.participant === participant && !tab.leaveTimer) this.#tabs.delete(participant.mediaId);
  }

  async #leave(mediaId: string, tab: Tab): Promise<void> {
    if (this.#tabs.get(mediaId) !== tab) return;
    this.#tabs.delete(mediaId);
    clearTimeout(tab.leaveTimer);
    const published = tab.state.camera || tab.state.microphone || tab.state.screen;
    await this.#options.media.leave(this.#options.roomId, mediaId).catch((error: unknown) => this.#options.logger.warn({ err: error, user: tab.participant.userId }, 'closing media failed'));
    if (published) this.#options.broadcastState({ userId: tab.participant.userId, name: tab.participant.name, ...OFF });
    this.#options.changed();
  }

  #setState(tab: Tab, on: Pick<MediaState, 'camera' | 'microphone' | 'screen'>): void {
    const next = { userId: tab.participant.userId, name: tab.participant.name, camera: on.camera, microphone: on.microphone, screen: on.screen };
    const before = tab.state;
    tab.state = next;
    if (before.camera !== next.camera || before.microphone !== next.microphone || before.screen !== next.screen) this.#options.broadcastState(next);
  }

  #stageTracks(tracks: SubscribedTrackInfo[]): StageTrack[] {
    return tracks.map((track) => {
      const tab = this.#tabs.get(track.userId);
      return { mid: track.mid, userId: tab?.participant.userId ?? track.userId.split('/')[0] ?? '', name: tab?.participant.name ?? '', kind: track.kind, source: sourceOf(track, tab) };
    });
  }

  /** Media refusals reach the browser in words for it (the media module's own text, with its ids and causes, goes to the log); anything else is ours. */
  async #media<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof MediaError)) throw error;
      if (error.cause !== undefined) this.#options.logger.info({ err: error.cause, code: error.code }, `media refused: ${error.message}`);
      throw new ClassRefusal(spoken(error));
    }
  }
}

/** What a published track is, as its publisher said (a microphone or camera if it did not). */
function sourceOf(track: PublishedTrackInfo, tab: Tab | undefined): MediaSource {
  return (track.trackId && tab?.sources[track.trackId]) || (track.kind === 'audio' ? 'microphone' : 'camera');
}

/**
 * What a participant is told of a media refusal. The SDP checks (the media module's own checks of
 * what was offered) describe the participant's own session description and are told as they are;
 * a library's exception, ids and internal states are not.
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
