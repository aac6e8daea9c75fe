// The running tool: owns the HTTP listener, the database and the DATA_DIR lock.
// main.ts starts one; tests start as many as they like. Nothing here touches signals or exits.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import type { Settings } from '../config/index.ts';
import { createAdminApi, Lti, removeAdminToken, writeAdminToken } from '../lti/index.ts';
import { AccessService, AttendanceReporter } from './access/index.ts';
import { MediaServer, type MediaServerOptions } from './media/index.ts';
import { Realtime, recordingSources, roomChannel } from './realtime/index.ts';
import { LinkSigner, RecordingService, vodRouter } from '../recordings/index.ts';
import { createRepositories, Database, DataDirLock, describeError, type Repositories } from './db/index.ts';
import { answerClientErrors, createApp, createHostApi } from './http/index.ts';
import { Metrics } from './metrics/index.ts';
import type { Logger } from './logger.ts';

/** Time given to in-flight requests on stop before their connections are cut. */
const DRAIN_MS = 8_000;

export class ServiceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceUnavailableError';
  }
}

export interface ServiceOptions {
  /** Called when the service cannot go on (a migration failed); main.ts exits on it. */
  onFatal?: (error: Error) => void;
}

export class Service {
  readonly settings: Settings;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #lock: DataDirLock | undefined;
  /** Secret of the admin API, in DATA_DIR/admin.token; only with the embedded database. */
  readonly #adminToken: string | undefined;
  /** Prometheus metrics of this service (GET /metrics). */
  readonly metrics: Metrics;
  #adminApi: RequestHandler | undefined;
  #hostApi: RequestHandler | undefined;
  #vod: RequestHandler | undefined;
  #recordings: RecordingService | undefined;
  readonly #abort = new AbortController();
  #database: Database | undefined;
  #repositories: Repositories | undefined;
  #lti: Lti | undefined;
  #access: AccessService | undefined;
  #realtime: Realtime | undefined;
  #databaseProblem: string | undefined;
  #connecting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #url = '';

  private constructor(settings: Settings, logger: Logger, lock: DataDirLock | undefined, adminToken: string | undefined) {
    this.settings = settings;
    this.#logger = logger;
    this.#lock = lock;
    this.#adminToken = adminToken;
    this.metrics = new Metrics({ realtime: () => this.#realtime, recordings: () => this.#recordings, databaseReady: () => this.#database !== undefined });
    const app = createApp({
      logger: logger.child({ module: 'http' }),
      readiness: { check: () => this.#checkReady() },
      lti: () => this.#lti?.router,
      admin: () => this.#adminApi,
      api: () => this.#hostApi,
      vod: () => this.#vod,
      metrics: { token: settings.metricsToken, render: () => this.metrics.render() },
    });
    this.#server = createServer(app);
    answerClientErrors(this.#server);
  }

  /**
   * Starts the tool. With the embedded database, takes the DATA_DIR lock (DataDirInUseError if
   * another process holds it) and opens the data before listening. With DATABASE_URL, listens at
   * once and keeps trying the server in the background; /readyz says 503 until it answers.
   */
  static async start(settings: Settings, logger: Logger, options: ServiceOptions = {}): Promise<Service> {
    let lock: DataDirLock | undefined;
    let database: Database | undefined;
    let adminToken: string | undefined;
    if (settings.databaseUrl === undefined) {
      lock = DataDirLock.acquire(settings.dataDir);
      try {
        // Written before the lock records our URL: the CLI reads both once the URL is there.
        adminToken = writeAdminToken(settings.dataDir);
        database = await Database.openEmbedded(settings.dataDir);
      } catch (error) {
        if (adminToken !== undefined) removeAdminToken(settings.dataDir, adminToken);
        lock.release();
        throw error;
      }
      logger.info({ module: 'db' }, `database ready: ${database.description}`);
    }
    const service = new Service(settings, logger, lock, adminToken);
    try {
      if (database !== undefined) await service.#useDatabase(database);
      await service.#listen();
    } catch (error) {
      await service.stop();
      throw error;
    }
    if (settings.databaseUrl !== undefined) service.#connectInBackground(settings.databaseUrl, options);
    return service;
  }

  /** The local address the listener is bound to, e.g. http://127.0.0.1:3000. */
  get url(): string {
    return this.#url;
  }

  get database(): Database | undefined {
    return this.#database;
  }

  /** The repositories, once the database is reachable. */
  get repositories(): Repositories {
    if (this.#repositories === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected yet.');
    return this.#repositories;
  }

  /** Resolves once the database is connected and migrated. */
  async whenDatabaseReady(): Promise<Database> {
    await this.#connecting;
    if (this.#database === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected.');
    return this.#database;
  }

  /** Stops accepting, lets in-flight requests finish (up to 8 s), closes the database, releases DATA_DIR. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#abort.abort();
    // Recordings first (their playlists are closed while the media still flows), then sockets:
    // open websockets would otherwise hold the HTTP server until the drain cut.
    await this.#recordings?.close();
    // Browsers are told to come back through the public address, where another node (or this one,
    // restarted) takes their class; the rooms this node held are handed back first.
    await this.#realtime?.drain().catch((error: unknown) => this.#logger.warn({ err: error }, 'draining the sockets failed'));
    await this.#realtime?.close();
    if (this.#server.listening) {
      const closed = once(this.#server, 'close');
      this.#server.close();
      this.#server.closeIdleConnections();
      const cut = setTimeout(() => this.#server.closeAllConnections(), DRAIN_MS);
      await closed;
      clearTimeout(cut);
    }
    await this.#connecting?.catch(() => {});
    await this.#realtime?.close();
    await this.#lti?.close();
    await this.#database?.close().catch((error: unknown) => this.#logger.error({ err: error }, 'closing the database failed'));
    if (this.#adminToken !== undefined) removeAdminToken(this.settings.dataDir, this.#adminToken);
    this.#lock?.release();
    this.#logger.info('stopped');
  }

  async #listen(): Promise<void> {
    const { port, host } = this.settings;
    this.#server.listen({ port, host });
    await once(this.#server, 'listening');
    const address = this.#server.address() as AddressInfo;
    const reachable = address.address === '::' || address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
    this.#url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${address.port}`;
    this.#lock?.update({ url: this.#url });
    this.#logger.info({ url: this.#url, publicUrl: this.settings.publicUrl }, 'listening');
  }

  #connectInBackground(databaseUrl: string, options: ServiceOptions): void {
    const logger = this.#logger.child({ module: 'db' });
    this.#databaseProblem = 'Connecting to the database (DATABASE_URL).';
    this.#connecting = Database.connectWithRetry(databaseUrl, logger, this.#abort.signal, (reason) => {
      this.#databaseProblem = reason;
    }).then(
      async (database) => {
        if (this.#abort.signal.aborted) return database.close();
        await this.#useDatabase(database);
        logger.info(`database ready: ${database.description}`);
      },
      (error: unknown) => {
        if (this.#abort.signal.aborted) return;
        const fatal = new Error(`The database could not be prepared: ${describeError(error)}`, { cause: error });
        this.#databaseProblem = fatal.message;
        logger.fatal({ err: error }, fatal.message);
        options.onFatal?.(fatal);
      },
    );
  }

  async #useDatabase(database: Database): Promise<void> {
    this.#database = database;
    const repositories = createRepositories(database.orm);
    this.#repositories = repositories;
    let access: AccessService | undefined;
    const lti = await Lti.create({
      settings: this.settings,
      orm: database.orm,
      repositories: () => repositories,
      logger: this.#logger.child({ module: 'lti' }),
      decide: (place, person) => (access as AccessService).decideIn(place, person, 'launch'),
      onLaunch: (outcome, seconds) => this.metrics.launch(outcome, seconds),
    });
    access = new AccessService({
      repositories: () => repositories,
      lms: lti.services,
      logger: this.#logger.child({ module: 'access' }),
      settings: this.settings.access,
      onDecision: (grant, trigger) => this.metrics.accessDecision(grant, trigger),
    });
    this.#access = access;
    const media = new MediaServer(mediaOptions(this.settings));
    const realtime = new Realtime({
      httpServer: this.#server,
      seats: lti.seats,
      access,
      attendance: new AttendanceReporter(() => repositories, lti.services, this.#logger.child({ module: 'attendance' })),
      repositories: () => repositories,
      logger: this.#logger.child({ module: 'realtime' }),
      recheckSeconds: this.settings.access.recheckSeconds,
      media,
      recordings: () => this.#recordings,
      turn: this.settings.turn,
      maxSubscribers: this.settings.rtc.maxSubscribers,
      seatLimit: this.settings.roomSeatLimit,
      mediaGraceMs: this.settings.rtc.graceSeconds * 1000,
      redisUrl: this.settings.redisUrl,
      node: this.settings.node,
      publicUrl: this.settings.publicUrl,
    });
    this.#realtime = realtime;
    const signer = new LinkSigner(lti.seats.derivedKey('recording links v1'));
    const recordings = new RecordingService({
      media,
      repositories: () => repositories,
      logger: this.#logger.child({ module: 'recordings' }),
      dir: this.settings.recordingsDir,
      node: this.settings.node.id,
      ffmpegPath: this.settings.ffmpegPath,
      signer,
      publicPath: '/vod',
      linkSeconds: this.settings.recording.linkMinutes * 60,
      retentionDays: this.settings.recording.retentionDays,
      sourcesFor: (roomId) => recordingSources(realtime.media.publishedTracks(roomId)),
      announce: (roomId, state) => {
        realtime.io.to(roomChannel(roomId)).emit('recording:state', state);
        if (!state.recording) realtime.io.to(roomChannel(roomId)).emit('recordings:changed', {});
      },
    });
    media.on('tracks', ({ roomId }) => recordings.sourcesChanged(roomId));
    // FFmpeg is checked in the background: it costs ~0.2 s that the first launch need not wait for.
    void recordings.init();
    this.#recordings = recordings;
    this.#vod = vodRouter({ recordings: () => this.#recordings, signer, decide: (userId, roomId) => access.decide(userId, roomId, 'replay') });
    this.#hostApi = createHostApi({ seats: lti.seats, access: () => this.#access, repositories: () => this.#repositories, logger: this.#logger.child({ module: 'host-api' }) });
    this.#lti = lti;
    if (this.#adminToken !== undefined) this.#adminApi = createAdminApi(this.#lti.platforms, this.#adminToken);
    this.#databaseProblem = undefined;
  }

  /** The recorder, once the database is ready. */
  get recordings(): RecordingService {
    if (this.#recordings === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected yet.');
    return this.#recordings;
  }

  /** socket.io and the media signaling, once the database is ready. */
  get realtime(): Realtime {
    if (this.#realtime === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected yet.');
    return this.#realtime;
  }

  /** The access rules, once the database is ready. */
  get access(): AccessService {
    if (this.#access === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected yet.');
    return this.#access;
  }

  /** The LTI side, once the database is ready. */
  get lti(): Lti {
    if (this.#lti === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected yet.');
    return this.#lti;
  }

  async #checkReady(): Promise<void> {
    if (this.#abort.signal.aborted) throw new ServiceUnavailableError('Shutting down.');
    if (this.#database === undefined || this.#lti === undefined) {
      throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected.');
    }
    await this.#database.ping();
  }
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** The SFU's network settings: ports, the announced address, and loopback when browsers are on this machine. */
export function mediaOptions(settings: Settings): MediaServerOptions {
  const { announcedIp, minPort, maxPort } = settings.rtc;
  const hostAddresses = new Set<string>();
  // werift does not gather loopback; add it when that is where browsers will come from.
  if (announcedIp && LOOPBACK.test(announcedIp)) hostAddresses.add(announcedIp);
  if (LOOPBACK.test(new URL(settings.publicUrl).hostname.replace(/^\[|\]$/g, ''))) hostAddresses.add('127.0.0.1');
  const stun = settings.turn.urls.filter((url) => url.startsWith('stun:'));
  return {
    portRange: [minPort, maxPort],
    connectTimeoutMs: settings.rtc.connectTimeoutSeconds * 1000,
    videoBitrate: { min: settings.rtc.minVideoKbps * 1000, max: settings.rtc.maxVideoKbps * 1000 },
    videoCodecs: settings.rtc.videoCodecs,
    workers: settings.rtc.workers,
    ...(announcedIp && !LOOPBACK.test(announcedIp) ? { announcedIp } : {}),
    ...(hostAddresses.size > 0 ? { hostAddresses: [...hostAddresses] } : {}),
    // The server needs STUN only to learn its public address behind NAT, when none is announced.
    iceServers: announcedIp ? [] : stun.map((urls) => ({ urls })),
  };
}
