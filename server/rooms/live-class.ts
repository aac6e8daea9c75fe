// One room's live class on this node: the one owner of its participants (and their seats), its
// media, its interaction, its recording (through the recorder) and its timers. Everything that
// happens to the class goes through it: admissions and departures, going live and ending, the
// stage, the periodic access re-check. It closes once (`close(reason)`): the class left this node
// (drained, the room removed, the node stopping) or nobody is left in it; its participants are
// told and let go, its media and timers closed.
import { PersonNotFoundError, RoomNotFoundError, type AccessService, type Decision } from '../access/index.ts';
import type { Repositories } from '../db/index.ts';
import type { Logger } from '../logger/index.ts';
import type { MediaEngine } from '../media/index.ts';
import { PROTOCOL_VERSION, type ClassStatus, type IceServerInfo, type RecordingStateView } from '../protocol/index.ts';
import type { AttendanceReporter } from './attendance.ts';
import { roomChannel, userChannel, hostsChannel } from './channels.ts';
import { ClassMedia } from './class-media.ts';
import { ClassRefusal } from './errors.ts';
import { ClassInteraction } from './interaction.ts';
import { Participant, type Seat } from './participant.ts';
import type { Audience, ClassRecorder, Connection } from './ports.ts';

/** What every class of a node shares. */
export interface ClassServices {
  repositories: () => Repositories;
  access: Pick<AccessService, 'decide' | 'recheck' | 'bringOnStage' | 'takeOffStage'>;
  attendance: Pick<AttendanceReporter, 'report'>;
  media: MediaEngine;
  recorder: ClassRecorder;
  audience: Audience;
  logger: Logger;
  /** STUN/TURN servers for a user's browser. */
  iceServers: (userId: string) => IceServerInfo[];
  settings: {
    /** Most participants in a room (hosts excepted), unless the room sets its own. */
    seatLimit: number;
    recheckSeconds: number;
    maxSubscribers: number;
    mediaGraceMs: number;
  };
}

/**
 * Why a class leaves this node: nobody is left in it (`empty`), the node hands it over (`drained`),
 * the room was removed (`removed`), or the node stops (`stopped`).
 */
export type ClassClosing = 'empty' | 'drained' | 'removed' | 'stopped';

export interface EndedClass {
  status: ClassStatus;
  attendanceSent: number;
  attendanceProblem?: string;
}

export class LiveClass {
  readonly roomId: string;
  readonly media: ClassMedia;
  readonly interaction: ClassInteraction;
  /** The class's recording: a host starts and stops it (the recorder tells the room). */
  readonly recording: { start(): Promise<RecordingStateView>; stop(): Promise<RecordingStateView> };
  readonly #services: ClassServices;
  readonly #log: Logger;
  readonly #participants = new Set<Participant>();
  readonly #recheck: NodeJS.Timeout;
  readonly #onClosed: (liveClass: LiveClass) => void;
  #checking = false;
  #closing: Promise<void> | undefined;
  #closedBy: ClassClosing | undefined;

  /** `onClosed`: the registry hears that the class left (to forget it). */
  constructor(roomId: string, services: ClassServices, onClosed: (liveClass: LiveClass) => void) {
    this.roomId = roomId;
    this.#services = services;
    this.#onClosed = onClosed;
    this.#log = services.logger.child({ room: roomId });
    const { audience, settings } = services;
    this.media = new ClassMedia({
      roomId,
      media: services.media,
      logger: this.#log,
      maxSubscribers: settings.maxSubscribers,
      graceMs: settings.mediaGraceMs,
      broadcastState: (state) => audience.to(roomChannel(roomId)).emit('media:state', state),
      changed: () => this.checkEmpty(),
    });
    this.interaction = new ClassInteraction({
      roomId,
      repositories: services.repositories,
      audience,
      present: (userId) => this.#tabsOf(userId).length > 0,
      bringOnStage: (actor, userId) => this.bringOnStage(actor, userId),
    });
    this.recording = {
      start: () => services.recorder.start(roomId, this.media.stage()),
      stop: () => services.recorder.stop(roomId),
    };
    this.#recheck = setInterval(() => void this.recheck(), settings.recheckSeconds * 1000);
    this.#recheck.unref();
  }

  /** Set the moment close() is called (before its first await: a departure meanwhile tells nobody a count). */
  get closed(): boolean {
    return this.#closedBy !== undefined;
  }

  /** The admitted tabs. */
  participants(): readonly Participant[] {
    return [...this.#participants];
  }

  /** People (not tabs) in the class. */
  get headcount(): number {
    return new Set([...this.#participants].map((p) => p.userId)).size;
  }

  #tabsOf(userId: string): Participant[] {
    return [...this.#participants].filter((p) => p.userId === userId);
  }

  #repos(): Repositories {
    return this.#services.repositories();
  }

  /**
   * Admits a connection with its seat, or refuses it (told why, and disconnected). Answers the
   * participant, or undefined when refused or when the connection went away meanwhile.
   */
  async admit(seat: Seat, connection: Connection): Promise<Participant | undefined> {
    if (this.closed) return this.#refuse(connection, 'this class is moving to another server; reconnecting you');
    const { access } = this.#services;
    const repos = this.#repos();
    let decision: Decision;
    try {
      decision = await access.decide(seat.userId, this.roomId, 'join');
    } catch (error) {
      // A seat issued before the room went with its course (or an administrator's clean-up): a refusal, in words.
      if (!(error instanceof RoomNotFoundError)) throw error;
      this.#log.info({ user: seat.userId }, 'a seat for a room that no longer exists was refused');
      return this.#refuse(connection, 'this live class was removed from the course; open the course page again');
    }
    if (decision.grant === 'denied') return this.#refuse(connection, decision.reason, decision.code);
    if (!connection.connected) return undefined;
    const full = decision.grant === 'host' ? undefined : await this.#full(seat.userId);
    if (full) return this.#refuse(connection, full, 'roomFull');
    if (!connection.connected || this.closed) return undefined;
    const participant = new Participant(seat, connection, decision.grant);
    // Into the class first, then look for a class in progress: a class started meanwhile either
    // finds this participant or is found here (a second presence row is harmless).
    this.#participants.add(participant);
    await connection.join(roomChannel(this.roomId));
    await connection.join(userChannel(this.roomId, seat.userId));
    if (participant.grant === 'host') await connection.join(hostsChannel(this.roomId));
    const session = await repos.classes.current(this.roomId);
    if (session && participant.presenceId === undefined) participant.presenceId = await repos.classes.joined(session.id, seat.userId);
    if (!connection.connected || participant.departure !== undefined) {
      this.leave(participant, 'left');
      return undefined;
    }
    // A class in progress is live whatever the room row says; only without one is the row read.
    const status: ClassStatus = session ? 'live' : ((await repos.rooms.get(this.roomId))?.status ?? 'scheduled');
    this.media.attach(participant);
    const participants = this.headcount;
    participant.emit('welcome', { protocol: PROTOCOL_VERSION, grant: decision.grant, reason: decision.reason, status, participants, iceServers: this.#services.iceServers(seat.userId), simulcast: this.media.simulcast, iceRestart: this.media.iceRestart });
    for (const state of this.media.states()) participant.emit('media:state', state);
    this.#services.recorder.arrived(this.roomId, session?.recording === true, this.media.stage(), (state) => participant.emit('recording:state', state));
    // One count for the newcomer and everyone else.
    this.#services.audience.to(roomChannel(this.roomId), { except: connection.id }).emit('participants:count', { count: participants });
    this.#log.debug({ user: seat.userId, grant: decision.grant }, 'joined');
    return participant;
  }

  #refuse(connection: Connection, reason: string, code?: Decision['code'] | 'roomFull'): undefined {
    connection.emit('access:revoked', { reason, ...(code ? { code } : {}) });
    connection.disconnect();
    return undefined;
  }

  /** A refusal if the room already holds its seat limit of participants (hosts and this user aside). */
  async #full(userId: string): Promise<string | undefined> {
    const room = await this.#repos().rooms.get(this.roomId);
    const limit = room?.seatLimit ?? this.#services.settings.seatLimit;
    const others = new Set([...this.#participants].filter((p) => p.grant !== 'host' && p.userId !== userId).map((p) => p.userId));
    return others.size >= limit ? `the room is full (${limit} ${limit === 1 ? 'seat' : 'seats'}); try again when someone leaves, or ask your instructor to raise the limit` : undefined;
  }

  /**
   * A participant is gone: its socket closed (`left`: its media outlives it for the grace
   * period), or it was removed (`revoked`: its media goes at once). Once per participant.
   */
  leave(participant: Participant, how: 'left' | 'revoked'): void {
    if (!participant.depart(how)) return;
    this.#participants.delete(participant);
    const presenceId = participant.presenceId;
    participant.presenceId = undefined;
    if (presenceId !== undefined) this.#repos().classes.left(presenceId).catch((error: unknown) => this.#log.warn({ err: error, user: participant.userId }, 'recording a departure failed'));
    this.media.detach(participant, how === 'revoked');
    if (!this.closed) this.#services.audience.to(roomChannel(this.roomId)).emit('participants:count', { count: this.headcount });
    this.checkEmpty();
  }

  /** Removes a participant, telling it why. */
  revoke(participant: Participant, reason: string, code?: Decision['code']): void {
    participant.emit('access:revoked', { reason, ...(code ? { code } : {}) });
    this.leave(participant, 'revoked');
    participant.connection.disconnect();
  }

  /** Opens the class: a session starts and everyone already waiting counts as present. */
  async start(): Promise<ClassStatus> {
    const repos = this.#repos();
    const session = await repos.classes.start(this.roomId);
    for (const participant of this.#participants) {
      if (participant.presenceId === undefined) participant.presenceId = await repos.classes.joined(session.id, participant.userId);
    }
    const room = await repos.rooms.update(this.roomId, { status: 'live' });
    // Only a class that starts now: Go live pressed again must not restart a recording a host stopped.
    if (session.fresh && room) this.#services.recorder.classStarted(room, this.media.stage());
    this.#services.audience.to(roomChannel(this.roomId)).emit('class:status', { status: 'live' });
    this.#log.info({ session: session.id }, 'class started');
    return 'live';
  }

  /** Ends the class for everyone, then sends attendance to the LMS if the room asks for it. */
  async end(): Promise<EndedClass> {
    const repos = this.#repos();
    const session = await repos.classes.current(this.roomId);
    await repos.rooms.update(this.roomId, { status: 'ended' });
    await repos.stage.clear(this.roomId);
    await this.interaction.classEnded();
    // The recording closes first, so it ends with the class's last picture and sound.
    await this.#services.recorder.classEnded(this.roomId).catch((error: unknown) => this.#log.error({ err: error }, 'stopping the recording failed'));
    await this.media.close();
    for (const participant of this.#participants) {
      participant.presenceId = undefined;
      if (participant.grant === 'speaker') participant.setGrant('attendee', 'the class ended');
    }
    this.#services.audience.to(roomChannel(this.roomId)).emit('class:status', { status: 'ended' });
    if (!session) return { status: 'ended', attendanceSent: 0 };
    const ended = (await repos.classes.end(session.id)) ?? session;
    this.#log.info({ session: session.id }, 'class ended');
    const report = await this.#services.attendance.report(ended);
    return { status: 'ended', attendanceSent: report.sent, ...(report.problem ? { attendanceProblem: report.problem } : {}) };
  }

  /** Whether the class has started. */
  async live(): Promise<void> {
    if (!(await this.#repos().classes.current(this.roomId))) throw new ClassRefusal('the class has not started');
  }

  /** Brings someone in the class on stage (a host's call). */
  async bringOnStage(actor: Participant, userId: string): Promise<Decision> {
    if (this.#tabsOf(userId).length === 0) throw new ClassRefusal('this person is not in the class');
    const decision = await this.#services.access.bringOnStage(actor.userId, this.roomId, userId);
    this.applyGrant(userId, decision);
    void this.interaction.publishHands().catch((error: unknown) => this.#log.warn({ err: error }, 'sending the hands failed'));
    return decision;
  }

  /** Takes someone off stage: a host, or the speaker themself. */
  async takeOffStage(actor: Participant, userId: string): Promise<Decision> {
    if (userId !== actor.userId && actor.grant !== 'host') throw new ClassRefusal('only a host can do this');
    if (this.#tabsOf(userId).length === 0 && !(await this.#repos().stage.has(this.roomId, userId))) throw new ClassRefusal('this person is not in the class');
    const decision = await this.#services.access.takeOffStage(actor.userId, this.roomId, userId);
    this.applyGrant(userId, decision);
    void this.interaction.publishHands().catch((error: unknown) => this.#log.warn({ err: error }, 'sending the hands failed'));
    return decision;
  }

  /**
   * A user's grant changed: their tabs here follow it, and (unless the change came from another
   * node) the other nodes are told, for tabs of theirs.
   */
  applyGrant(userId: string, decision: Decision, fromElsewhere = false): void {
    if (!fromElsewhere) this.#services.audience.grantChangedElsewhere(this.roomId, userId, decision);
    for (const participant of this.#tabsOf(userId)) this.#setGrant(participant, decision);
  }

  #setGrant(participant: Participant, decision: Decision): void {
    if (decision.grant === 'denied') return this.revoke(participant, decision.reason, decision.code);
    const could = participant.onStage;
    participant.setGrant(decision.grant, decision.reason);
    if (could && !participant.onStage) {
      this.media.stopPublishing(participant.userId).catch((error: unknown) => this.#log.warn({ err: error, user: participant.userId }, 'stopping a speaker\'s media failed'));
    }
  }

  /** Checks everyone in the class again with fresh LMS facts; removes whoever may no longer be here. */
  async recheck(): Promise<void> {
    if (this.#checking || this.closed || this.#participants.size === 0) return;
    this.#checking = true;
    try {
      const decisions = await this.#services.access.recheck(this.roomId, [...new Set([...this.#participants].map((p) => p.userId))]);
      for (const participant of this.participants()) {
        const decision = decisions.get(participant.userId);
        if (!decision) continue;
        if (decision.grant === 'denied') this.revoke(participant, decision.reason, decision.code);
        else if (decision.grant !== participant.grant) this.#setGrant(participant, decision);
      }
    } catch (error) {
      if (error instanceof RoomNotFoundError) {
        // The room was removed (with its course) during the class: nobody may stay.
        this.#log.info('the room was removed; its participants are told and let go');
        await this.close('removed');
      } else if (!(error instanceof PersonNotFoundError)) {
        this.#log.error({ err: error }, 're-checking the class failed; will try again');
      }
    } finally {
      this.#checking = false;
    }
  }

  /** Closes the class here when nobody is in it and it holds no media and no recording. */
  checkEmpty(): void {
    if (this.closed || this.#participants.size > 0 || this.media.tabs > 0 || this.#services.recorder.busy(this.roomId)) return;
    void this.close('empty');
  }

  /**
   * The class leaves this node (once; a second call answers the first). Its participants are told
   * why and let go: `drained`, they come back through the public address, each at its moment within
   * `spreadMs`; `removed`, the class is gone. Its media and timers close.
   */
  close(reason: ClassClosing, { spreadMs = 3_000 }: { spreadMs?: number } = {}): Promise<void> {
    this.#closedBy ??= reason;
    this.#closing ??= this.#close(reason, spreadMs);
    return this.#closing;
  }

  async #close(reason: ClassClosing, spreadMs: number): Promise<void> {
    clearInterval(this.#recheck);
    const participants = this.participants();
    // Everyone is told first, then let go: a departure's messages never queue ahead of the notice.
    for (const participant of participants) {
      if (reason === 'drained' || reason === 'stopped') {
        participant.emit('server:draining', { reason: 'this server is restarting; reconnecting you', reconnectInMs: 250 + Math.floor(Math.random() * spreadMs) });
      } else if (reason === 'removed') {
        participant.emit('access:revoked', { reason: 'this live class was removed from the course' });
      }
    }
    for (const participant of participants) {
      this.leave(participant, reason === 'removed' ? 'revoked' : 'left');
      participant.connection.disconnect();
    }
    await this.media.close().catch((error: unknown) => this.#log.warn({ err: error }, 'closing the class\'s media failed'));
    this.#log.debug({ reason }, 'class closed on this node');
    try {
      this.#onClosed(this);
    } catch (error) {
      this.#log.warn({ err: error }, 'a listener of the class\'s close failed');
    }
  }
}
