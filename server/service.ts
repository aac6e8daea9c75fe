// The running tool: owns the HTTP listener, the DATA_DIR lock, the database connection and, once
// the database answers, the runtime (everything that needs it, built in one step: runtime.ts).
// main.ts starts one; tests start as many as they like. Nothing here touches signals or exits.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Settings } from '../config/index.ts';
import { removeAdminToken, writeAdminToken, type Lti } from '../lti/index.ts';
import type { RecordingService } from '../recordings/index.ts';
import type { AccessService, SeatTokens } from './access/index.ts';
import { Database, DataDirLock, describeError, type Repositories } from './db/index.ts';
import { answerClientErrors, createApp } from './http/index.ts';
import type { Logger } from './logger/index.ts';
import type { MediaEngine } from './media/index.ts';
import { Metrics } from './metrics/index.ts';
import type { Realtime } from './realtime/index.ts';
import type { Classes } from './rooms/index.ts';
import { Runtime } from './runtime.ts';

export { mediaOptions } from './runtime.ts';

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
  readonly #abort = new AbortController();
  #database: Database | undefined;
  /** Everything that needs the database, once it answers. */
  #runtime: Runtime | undefined;
  #databaseProblem: string | undefined;
  #connecting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #url = '';

  private constructor(settings: Settings, logger: Logger, lock: DataDirLock | undefined, adminToken: string | undefined) {
    this.settings = settings;
    this.#logger = logger;
    this.#lock = lock;
    this.#adminToken = adminToken;
    this.metrics = new Metrics({
      participants: () => this.#runtime?.classes.participants(),
      media: () => this.#runtime?.media.readStats(),
      recordings: () => this.#runtime?.recordings,
      databaseReady: () => this.#database !== undefined,
    });
    const app = createApp({
      logger: logger.child({ module: 'http' }),
      readiness: { check: () => this.#checkReady() },
      lti: () => this.#runtime?.routes.lti,
      admin: () => this.#runtime?.routes.admin,
      api: () => this.#runtime?.routes.api,
      vod: () => this.#runtime?.routes.vod,
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

  /** Resolves once the database is connected and migrated, and the runtime built on it. */
  async whenDatabaseReady(): Promise<Database> {
    await this.#connecting;
    if (this.#database === undefined || this.#runtime === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected.');
    return this.#database;
  }

  /** Stops accepting, lets in-flight requests finish (up to 8 s), closes the database, releases DATA_DIR. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#abort.abort();
    // The runtime first (recordings closed and handed over, browsers told to come back elsewhere,
    // sockets closed): open websockets would otherwise hold the HTTP server until the drain cut.
    await this.#runtime?.close();
    if (this.#server.listening) {
      const closed = once(this.#server, 'close');
      this.#server.close();
      this.#server.closeIdleConnections();
      const cut = setTimeout(() => this.#server.closeAllConnections(), DRAIN_MS);
      await closed;
      clearTimeout(cut);
    }
    // A database reached meanwhile is closed by its connection (the abort), or ran a runtime.
    await this.#connecting?.catch(() => {});
    await this.#runtime?.close();
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
    const fatal = (error: unknown) => {
      if (this.#abort.signal.aborted) return;
      const failure = new Error(`The database could not be prepared: ${describeError(error)}`, { cause: error });
      this.#databaseProblem = failure.message;
      logger.fatal({ err: error }, failure.message);
      options.onFatal?.(failure);
    };
    this.#databaseProblem = 'Connecting to the database (DATABASE_URL).';
    this.#connecting = Database.connectWithRetry(databaseUrl, logger, this.#abort.signal, (reason) => {
      this.#databaseProblem = reason;
    }).then(async (database) => {
      if (this.#abort.signal.aborted) return database.close();
      try {
        await this.#useDatabase(database);
      } catch (error) {
        return fatal(error);
      }
      logger.info(`database ready: ${database.description}`);
    }, fatal);
  }

  /** Builds the runtime on the database (in one step: a failure leaves nothing half-built). */
  async #useDatabase(database: Database): Promise<void> {
    this.#database = database;
    this.#runtime = await Runtime.create({
      database,
      settings: this.settings,
      logger: this.#logger,
      httpServer: this.#server,
      metrics: this.metrics,
      adminToken: this.#adminToken,
    });
    this.#databaseProblem = undefined;
  }

  /** Everything that needs the database; throws ServiceUnavailableError until it is ready. */
  get runtime(): Runtime {
    if (this.#runtime === undefined) throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected yet.');
    return this.#runtime;
  }

  get repositories(): Repositories {
    return this.runtime.repositories;
  }

  get recordings(): RecordingService {
    return this.runtime.recordings;
  }

  get realtime(): Realtime {
    return this.runtime.realtime;
  }

  get classes(): Classes {
    return this.runtime.classes;
  }

  get media(): MediaEngine {
    return this.runtime.media;
  }

  get access(): AccessService {
    return this.runtime.access;
  }

  get lti(): Lti {
    return this.runtime.lti;
  }

  get seats(): SeatTokens {
    return this.runtime.seats;
  }

  async #checkReady(): Promise<void> {
    if (this.#abort.signal.aborted) throw new ServiceUnavailableError('Shutting down.');
    if (this.#database === undefined || this.#runtime === undefined) {
      throw new ServiceUnavailableError(this.#databaseProblem ?? 'The database is not connected.');
    }
    await this.#database.ping();
  }
}
