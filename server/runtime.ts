// Everything that needs the database, built in one step from the database and the settings, and
// closed in the reverse order: the LTI side, the access rules, the launch use case, the SFU, the
// recorder, the node's live classes and the sockets that reach them, and the routes that serve
// them. Each part is made complete, with what it needs in hand (nothing is wired afterwards); if a
// step fails, what was built is closed before the failure is passed on. Part of the composition
// root with service.ts and main.ts: the one place that imports every folder.
import type { Server as HttpServer } from 'node:http';
import type { RequestHandler } from 'express';
import type { Settings } from '../config/index.ts';
import { createAdminApi, Lti, resolveLtiKey } from '../lti/index.ts';
import { ClassRecordings, LinkSigner, RecordingService, vodRouter } from '../recordings/index.ts';
import { AccessService, SeatTokens } from './access/index.ts';
import { createRepositories, type Database, type Repositories } from './db/index.ts';
import { createHostApi } from './http/index.ts';
import { Launches } from './launch/index.ts';
import type { Logger } from './logger/index.ts';
import { startMediaEngine, type MediaEngine, type MediaServerOptions } from './media/index.ts';
import type { Metrics } from './metrics/index.ts';
import { Realtime, SocketHub } from './realtime/index.ts';
import { AttendanceReporter, Classes, iceServers } from './rooms/index.ts';

export interface RuntimeDependencies {
  database: Database;
  settings: Settings;
  logger: Logger;
  /** The node's HTTP server: socket.io attaches to it. */
  httpServer: HttpServer;
  /** What the runtime counts as it happens (access decisions, launches). */
  metrics: Pick<Metrics, 'accessDecision' | 'launch' | 'mediaWorkerExit'>;
  /** The admin API's token (DATA_DIR/admin.token), only with the embedded database. */
  adminToken: string | undefined;
}

/** The routes the HTTP app serves once the runtime is up. */
export interface RuntimeRoutes {
  lti: RequestHandler;
  api: RequestHandler;
  vod: RequestHandler;
  admin: RequestHandler | undefined;
}

export class Runtime {
  readonly repositories: Repositories;
  readonly seats: SeatTokens;
  readonly lti: Lti;
  readonly access: AccessService;
  readonly media: MediaEngine;
  readonly recordings: RecordingService;
  readonly classes: Classes;
  readonly realtime: Realtime;
  readonly routes: RuntimeRoutes;
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;

  private constructor(parts: Omit<Runtime, 'close'>, logger: Logger) {
    this.repositories = parts.repositories;
    this.seats = parts.seats;
    this.lti = parts.lti;
    this.access = parts.access;
    this.media = parts.media;
    this.recordings = parts.recordings;
    this.classes = parts.classes;
    this.realtime = parts.realtime;
    this.routes = parts.routes;
    this.#logger = logger;
  }

  static async create({ database, settings, logger, httpServer, metrics, adminToken }: RuntimeDependencies): Promise<Runtime> {
    /** What was built so far, to close in reverse if a later step fails. */
    const built: Array<[string, () => Promise<void>]> = [];
    try {
      const repositories = createRepositories(database.orm);
      const { key, source } = resolveLtiKey(settings.ltiKey, settings.dataDir);
      logger.info({ module: 'lti' }, `LTI key from ${source}`);
      const seats = new SeatTokens(key);

      const lti = await Lti.create({ settings, orm: database.orm, logger: logger.child({ module: 'lti' }), key });
      built.push(['the LTI side', () => lti.close()]);
      const access = new AccessService({
        repositories: () => repositories,
        lms: lti.services,
        logger: logger.child({ module: 'access' }),
        settings: settings.access,
        onDecision: (grant, trigger) => metrics.accessDecision(grant, trigger),
      });
      const launches = new Launches({ repositories: () => repositories, access, seats, logger: logger.child({ module: 'launch' }) });
      const ltiRoutes = lti.routes({ admit: (claims) => launches.admit(claims), onLaunch: (outcome, seconds) => metrics.launch(outcome, seconds) });

      const { media, reason } = await startMediaEngine(settings.rtc.engine, mediaOptions(settings));
      built.push(['the SFU', () => media.close()]);
      logger.info({ module: 'media', engine: media.engine }, `SFU engine: ${media.engine}, because ${reason}`);
      media.on('worker-exit', () => metrics.mediaWorkerExit(media.engine));
      const signer = new LinkSigner(seats.derivedKey('recording links v1'));
      const recordings = new RecordingService({
        media,
        repositories: () => repositories,
        logger: logger.child({ module: 'recordings' }),
        dir: settings.recordingsDir,
        node: settings.node.id,
        ffmpegPath: settings.ffmpegPath,
        signer,
        publicPath: '/vod',
        linkSeconds: settings.recording.linkMinutes * 60,
        retentionDays: settings.recording.retentionDays,
      });
      built.push(['the recorder', () => recordings.close()]);

      const hub = new SocketHub({ httpServer, logger: logger.child({ module: 'realtime' }), redisUrl: settings.redisUrl, corsOrigin: extraOrigin(settings) });
      built.push(['the sockets', () => hub.close()]);
      const classes = new Classes({
        repositories: () => repositories,
        access,
        attendance: new AttendanceReporter(() => repositories, lti.services, logger.child({ module: 'attendance' })),
        media,
        recorder: new ClassRecordings(recordings, logger.child({ module: 'recordings' })),
        audience: hub.audience,
        logger: logger.child({ module: 'classes' }),
        iceServers: (userId) => iceServers(settings.turn, userId),
        settings: {
          seatLimit: settings.roomSeatLimit,
          recheckSeconds: settings.access.recheckSeconds,
          maxSubscribers: settings.rtc.maxSubscribers,
          mediaGraceMs: settings.rtc.graceSeconds * 1000,
        },
      });
      built.push(['the classes', () => classes.close()]);
      const realtime = new Realtime({ hub, classes, seats, repositories: () => repositories, library: recordings, logger: logger.child({ module: 'realtime' }), node: settings.node });
      built.push(['the placement', () => realtime.close()]);

      const routes: RuntimeRoutes = {
        lti: ltiRoutes,
        api: createHostApi({ seats, access, repositories: () => repositories, logger: logger.child({ module: 'host-api' }) }),
        vod: vodRouter({ recordings, signer, decide: (userId, roomId) => access.decide(userId, roomId, 'replay') }),
        admin: adminToken === undefined ? undefined : createAdminApi(lti.platforms, adminToken),
      };
      // FFmpeg is checked in the background: it costs ~0.2 s that the first launch need not wait for.
      void recordings.init();
      return new Runtime({ repositories, seats, lti, access, media, recordings, classes, realtime, routes }, logger);
    } catch (error) {
      for (const [what, close] of built.reverse()) {
        await close().catch((failure: unknown) => logger.warn({ err: failure }, `closing ${what} after a failed start failed`));
      }
      throw error;
    }
  }

  /**
   * Closes everything, the reverse of its building. Recordings first, closed while the media still
   * flows and handed over (the node that takes a class records on); then the rooms are handed back
   * and the browsers told to reconnect through the public address; then classes, sockets, the SFU
   * and the LTI side. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const step = async (what: string, close: () => Promise<unknown>) => {
      await close().catch((error: unknown) => this.#logger.warn({ err: error }, `closing ${what} failed`));
    };
    await step('the recorder', () => this.recordings.close());
    await step('the rooms (drain)', () => this.realtime.drain());
    await step('the classes', () => this.classes.close());
    await step('the placement and the sockets', () => this.realtime.close());
    await step('the SFU', () => this.media.close());
    await step('the LTI side', () => this.lti.close());
  }
}

/** The launch page's origin, when it is not this node's own (PUBLIC_URL vs NODE_URL): it may open sockets here. */
function extraOrigin(settings: Settings): string | undefined {
  const publicOrigin = new URL(settings.publicUrl).origin;
  return publicOrigin !== new URL(settings.node.url).origin ? publicOrigin : undefined;
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
    maxSubscribers: settings.rtc.maxSubscribers,
    ...(settings.rtc.workers !== undefined ? { workers: settings.rtc.workers } : {}),
    ...(announcedIp && !LOOPBACK.test(announcedIp) ? { announcedIp } : {}),
    ...(hostAddresses.size > 0 ? { hostAddresses: [...hostAddresses] } : {}),
    // The server needs STUN only to learn its public address behind NAT, when none is announced.
    iceServers: announcedIp ? [] : stun.map((urls) => ({ urls })),
  };
}
