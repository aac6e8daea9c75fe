// The browser's side of the live class's media: one RTCPeerConnection to receive what is on
// stage (the server offers, we answer) and, for hosts and speakers, one to send camera,
// microphone and screen (we offer, the server answers). Either connection is made afresh when it
// fails or stays disconnected, and after the socket comes back from a network drop. A reactive
// controller of <live-classroom>: it signals through the element's ClassConnection, and removing the
// element from the page closes both connections and releases the camera.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { IceServerInfo, MediaSource, StageTrack } from '../server/protocol/index.ts';
import type { ClassConnection } from './class-connection.ts';
import { recoverConnection } from './connection-recovery.ts';
import { mediaTotals, receivedLevels, sendingLevel, type MediaTotals } from './media-stats.ts';

export type { MediaTotals } from './media-stats.ts';

const SIGNAL_TIMEOUT_MS = 15_000;
/** A camera's simulcast layers, lowest first (as the SFU counts them): ¼ and ½ size for weak links, then full size. */
const SIMULCAST_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

export interface Publisher {
  userId: string;
  name: string;
  camera?: MediaStream;
  screen?: MediaStream;
  audio?: MediaStream;
}

export interface MediaCallbacks {
  /** What is received or sent changed (tracks, connection states, camera or microphone on or off). */
  changed(): void;
  /** A negotiation failed (with why) or, with undefined, one succeeded again. */
  problem(reason: string | undefined): void;
}

interface Received {
  info: StageTrack;
  track: MediaStreamTrack;
}

export class MediaSession implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #connection: ClassConnection;
  readonly #changed: () => void;
  readonly #problem: (reason: string | undefined) => void;
  #iceServers: IceServerInfo[] = [];
  #engine = { simulcast: false, iceRestart: false };
  #rx: RTCPeerConnection | undefined;
  #tx: RTCPeerConnection | undefined;
  /** Negotiations run one after another. */
  #chain: Promise<unknown> = Promise.resolve();
  #tracks: StageTrack[] = [];
  readonly #received = new Map<string, Received>();
  /** Stable MediaStreams per publisher and source, so video elements keep playing across renders. */
  readonly #streams = new Map<string, MediaStream>();
  #local: MediaStream | undefined;
  #screen: MediaStream | undefined;
  #cameraOn = false;
  #microphoneOn = false;
  #closed = false;
  /** Stops each connection's recovery timer (close()). */
  readonly #unwatch = new Set<() => void>();

  /** Signals through `connection`, which `host` owns and adds before this (so it opens first). */
  constructor(host: ReactiveControllerHost, connection: ClassConnection, callbacks: MediaCallbacks) {
    this.#host = host;
    this.#connection = connection;
    this.#changed = () => callbacks.changed();
    this.#problem = (reason) => callbacks.problem(reason);
    host.addController(this);
  }

  /**
   * The element is on the page (again): follow the server's offers. The connection keeps these
   * across a move to another node; the next `resume()` finds that node without our connections and
   * makes fresh ones, sending again what we were sending.
   */
  hostConnected(): void {
    this.#closed = false;
    this.#connection.on(this.#host, {
      'media:offer': ({ sdp, tracks }) => void this.#serial(() => this.#answer(sdp, tracks)).catch((e: unknown) => this.#problem(message(e))),
      'media:failed': ({ side }) => {
        if (side === 'subscriber') void this.receive(true);
        else if (this.#local || this.#screen) void this.#republish();
      },
    });
  }

  hostDisconnected(): void {
    this.close();
  }

  /**
   * What the SFU takes (welcome): `simulcast`, the camera goes out in three layers (see
   * SIMULCAST_LAYERS); `iceRestart`, a connection that lost its path is kept with fresh ICE first.
   */
  set engine({ simulcast, iceRestart }: { simulcast: boolean; iceRestart: boolean }) {
    this.#engine = { simulcast, iceRestart };
  }

  set iceServers(servers: IceServerInfo[]) {
    this.#iceServers = servers;
  }

  get camera(): MediaStream | undefined {
    return this.#local;
  }

  get screen(): MediaStream | undefined {
    return this.#screen;
  }

  get cameraOn(): boolean {
    return this.#cameraOn;
  }

  get microphoneOn(): boolean {
    return this.#microphoneOn;
  }

  /** A media connection lost its path (no packets either way) and is waiting to recover or be replaced. */
  get interrupted(): boolean {
    return [this.#rx, this.#tx].some((pc) => pc?.connectionState === 'disconnected' || pc?.connectionState === 'failed');
  }

  get sending(): boolean {
    return this.#tx !== undefined;
  }

  /**
   * Starts (or refreshes) receiving; `restart` makes a fresh connection. Answers whether the
   * server still has our sending connection.
   */
  receive(restart = false, iceRestart = false): Promise<boolean> {
    return this.#serial(async () => {
      if (this.#closed) return false;
      const state = this.#rx?.connectionState;
      const fresh = restart || !this.#rx || state === 'closed' || (state === 'failed' && !iceRestart);
      if (fresh) this.#closeRx();
      const ack = await this.#connection.request('media:subscribe', fresh ? { restart: true } : iceRestart ? { iceRestart: true } : {}, SIGNAL_TIMEOUT_MS);
      if (!ack.ok) throw new Error(ack.error);
      const { sdp, tracks, created, publishing } = ack;
      // The server forgot our connection (we were away too long): ours cannot continue with its new one.
      if (created && this.#rx) this.#closeRx();
      await this.#answer(sdp, tracks);
      return publishing;
    }).catch((e: unknown) => {
      this.#problem(message(e));
      return true;
    });
  }

  /** Camera and microphone on (asks the browser for them the first time). */
  async startCamera(): Promise<void> {
    if (!this.#local) {
      this.#local = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: { echoCancellation: true, noiseSuppression: true } });
      this.#cameraOn = this.#local.getVideoTracks().length > 0;
      this.#microphoneOn = this.#local.getAudioTracks().length > 0;
    }
    await this.#publish();
  }

  /** Camera on or off without renegotiating: a disabled track sends black frames at a trickle. */
  setCamera(on: boolean): void {
    for (const track of this.#local?.getVideoTracks() ?? []) track.enabled = on;
    this.#cameraOn = on;
    this.#sendState();
  }

  setMicrophone(on: boolean): void {
    for (const track of this.#local?.getAudioTracks() ?? []) track.enabled = on;
    this.#microphoneOn = on;
    this.#sendState();
  }

  async shareScreen(): Promise<void> {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    this.#screen = screen;
    // The browser's own "Stop sharing" button ends the track.
    for (const track of screen.getTracks()) track.addEventListener('ended', () => void this.stopScreen());
    await this.#publish();
  }

  async stopScreen(): Promise<void> {
    const screen = this.#screen;
    if (!screen) return;
    this.#screen = undefined;
    for (const track of screen.getTracks()) track.stop();
    if (this.#local) await this.#publish();
    else await this.stopSending();
  }

  /** Stops camera, microphone and screen and closes the sending connection. */
  async stopSending(): Promise<void> {
    for (const stream of [this.#local, this.#screen]) for (const track of stream?.getTracks() ?? []) track.stop();
    this.#local = undefined;
    this.#screen = undefined;
    this.#cameraOn = false;
    this.#microphoneOn = false;
    this.#closeTx();
    this.#changed();
    if (this.#connection.connected) await this.#connection.request('media:unpublish', {}, SIGNAL_TIMEOUT_MS);
  }

  /** After the socket came back: refresh receiving, and send again if our connection did not survive. */
  async resume(): Promise<void> {
    const publishing = await this.receive(false);
    const tx = this.#tx;
    const sending = this.#local !== undefined || this.#screen !== undefined;
    if ((tx || sending) && (!publishing || tx?.connectionState !== 'connected')) await this.#republish();
  }

  /** Everyone on stage but us, with a stream per source. */
  publishers(): Publisher[] {
    const byUser = new Map<string, Publisher>();
    for (const { info, track } of this.#received.values()) {
      if (track.readyState === 'ended') continue;
      const publisher = byUser.get(info.userId) ?? { userId: info.userId, name: info.name };
      byUser.set(info.userId, publisher);
      const slot = info.source === 'microphone' ? 'audio' : info.source;
      const stream = this.#stream(`${info.userId}:${slot}`, track);
      publisher[slot] = stream;
    }
    return [...byUser.values()];
  }

  /** Audio level (0..1) of each publisher we receive (media-stats.ts). */
  levels(): Promise<Map<string, number>> {
    return receivedLevels(this.#rx, (mid) => this.#received.get(mid)?.info.userId);
  }

  localLevel(): Promise<number> {
    return this.#microphoneOn ? sendingLevel(this.#tx) : Promise.resolve(0);
  }

  totals(): Promise<MediaTotals> {
    return mediaTotals(this.#rx, this.#tx, (mid) => this.#received.get(mid)?.info.userId);
  }

  /** Closes both connections and stops camera, microphone and screen (until the element is on the page again). */
  close(): void {
    this.#closed = true;
    for (const stop of this.#unwatch) stop();
    this.#unwatch.clear();
    for (const stream of [this.#local, this.#screen]) for (const track of stream?.getTracks() ?? []) track.stop();
    this.#local = undefined;
    this.#screen = undefined;
    this.#closeRx();
    this.#closeTx();
  }

  /** The class ended or we lost the right to see it: drop what we receive (and send). */
  stopAll(): void {
    this.#closeRx();
    void this.stopSending();
  }

  async #answer(sdp: string, tracks: StageTrack[]): Promise<void> {
    if (this.#closed) return;
    const rx = this.#rx ?? this.#makeRx();
    this.#tracks = tracks;
    await rx.setRemoteDescription({ type: 'offer', sdp });
    const answer = await rx.createAnswer();
    await rx.setLocalDescription(answer);
    const ack = await this.#connection.request('media:answer', { sdp: rx.localDescription?.sdp ?? answer.sdp ?? '' }, SIGNAL_TIMEOUT_MS);
    if (!ack.ok) throw new Error(ack.error);
    this.#problem(undefined);
    this.#syncReceived();
  }

  #makeRx(): RTCPeerConnection {
    // Not max-bundle: the server's offer for an empty stage has no m-line, hence no BUNDLE group.
    const rx = new RTCPeerConnection({ iceServers: this.#iceServers });
    this.#rx = rx;
    rx.addEventListener('track', () => this.#syncReceived());
    this.#watch(rx, () => void this.receive(true), () => void this.receive(false, true));
    return rx;
  }

  /** Matches the connection's transceivers with the server's list of what each m-line carries. */
  #syncReceived(): void {
    const rx = this.#rx;
    this.#received.clear();
    if (!rx) return this.#changed();
    const byMid = new Map(this.#tracks.map((t) => [t.mid, t]));
    for (const transceiver of rx.getTransceivers()) {
      const info = transceiver.mid === null ? undefined : byMid.get(transceiver.mid);
      if (!info || transceiver.currentDirection === 'inactive' || transceiver.currentDirection === 'stopped') continue;
      this.#received.set(info.mid, { info, track: transceiver.receiver.track });
    }
    this.#changed();
  }

  async #publish(iceRestart = false): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) return;
      const state = this.#tx?.connectionState;
      const fresh = !this.#tx || state === 'closed' || (state === 'failed' && !iceRestart);
      if (fresh) this.#closeTx();
      const tx = this.#tx ?? this.#makeTx();
      // The next offer carries fresh ICE credentials: the server answers with its own.
      if (iceRestart && !fresh) tx.restartIce();
      const sources: Record<string, MediaSource> = {};
      const wanted = new Map<MediaStreamTrack, { stream: MediaStream; source: MediaSource }>();
      for (const track of this.#local?.getTracks() ?? []) wanted.set(track, { stream: this.#local as MediaStream, source: track.kind === 'audio' ? 'microphone' : 'camera' });
      for (const track of this.#screen?.getVideoTracks() ?? []) wanted.set(track, { stream: this.#screen as MediaStream, source: 'screen' });
      for (const transceiver of tx.getTransceivers()) {
        const track = transceiver.sender.track;
        if (transceiver.currentDirection === 'stopped' || (transceiver as { stopped?: boolean }).stopped) continue;
        if (track && wanted.has(track)) wanted.delete(track);
        else transceiver.stop();
      }
      for (const [track, { stream, source }] of wanted) {
        // The camera in three layers when the SFU takes them (each viewer gets what its link takes);
        // a screen stays one full-resolution stream, so slides are readable.
        const layered = this.#engine.simulcast && source === 'camera';
        tx.addTransceiver(track, { direction: 'sendonly', streams: [stream], ...(layered ? { sendEncodings: SIMULCAST_LAYERS.map((layer) => ({ ...layer })) } : {}) });
      }
      for (const transceiver of tx.getTransceivers()) {
        const track = transceiver.sender.track;
        if (!track || transceiver.direction === 'stopped') continue;
        sources[track.id] = track === this.#screen?.getVideoTracks()[0] ? 'screen' : track.kind === 'audio' ? 'microphone' : 'camera';
      }
      const offer = await tx.createOffer();
      await tx.setLocalDescription(offer);
      const ack = await this.#connection.request('media:publish', { sdp: tx.localDescription?.sdp ?? offer.sdp ?? '', sources, ...(fresh ? { restart: true } : {}) }, SIGNAL_TIMEOUT_MS);
      if (!ack.ok) {
        await tx.setLocalDescription({ type: 'rollback' }).catch(() => undefined);
        throw new Error(ack.error);
      }
      await tx.setRemoteDescription({ type: 'answer', sdp: ack.sdp });
      // Muted before this renegotiation: tell the room again, the server counted the tracks as on.
      if (!this.#cameraOn || !this.#microphoneOn) this.#sendState();
      this.#problem(undefined);
      this.#changed();
    });
  }

  #makeTx(): RTCPeerConnection {
    const tx = new RTCPeerConnection({ iceServers: this.#iceServers, bundlePolicy: 'max-bundle' });
    this.#tx = tx;
    this.#watch(tx, () => void this.#republish(), () => void this.#publish(true).catch((e: unknown) => this.#problem(message(e))));
    return tx;
  }

  async #republish(): Promise<void> {
    this.#closeTx();
    await this.#publish().catch((e: unknown) => this.#problem(message(e)));
  }

  /** Keeps a connection whose path was lost (connection-recovery.ts): `restartIce` first where the SFU can, else `fresh`. */
  #watch(pc: RTCPeerConnection, fresh: () => void, restartIce: () => void): void {
    const current = () => !this.#closed && (pc === this.#rx || pc === this.#tx) && this.#connection.connected;
    this.#unwatch.add(recoverConnection(pc, { current, iceRestart: () => this.#engine.iceRestart, restartIce, fresh, changed: () => this.#changed() }));
  }

  #sendState(): void {
    this.#changed();
    if (!this.#tx || !this.#connection.connected) return;
    void this.#connection.request('media:state', { camera: this.#cameraOn && !!this.#local, microphone: this.#microphoneOn && !!this.#local, screen: !!this.#screen }, SIGNAL_TIMEOUT_MS);
  }

  #stream(key: string, track: MediaStreamTrack): MediaStream {
    let stream = this.#streams.get(key);
    if (!stream) {
      stream = new MediaStream();
      this.#streams.set(key, stream);
    }
    for (const old of stream.getTracks()) if (old !== track) stream.removeTrack(old);
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    return stream;
  }

  #closeRx(): void {
    this.#rx?.close();
    this.#rx = undefined;
    this.#received.clear();
    this.#tracks = [];
    this.#changed();
  }

  #closeTx(): void {
    this.#tx?.close();
    this.#tx = undefined;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(task);
    this.#chain = result.catch(() => undefined);
    return result;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
