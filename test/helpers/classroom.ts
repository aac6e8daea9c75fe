// A tool (Service) and a platform simulator wired together, with helpers to launch as someone and
// to open the widget's socket with the seat token of that launch.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import { createLogger, type Logger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { mediaWorkerSettings } from './media-workers.ts';
import { Platform, type Flavor, type LaunchOptions } from './platform/index.ts';
import { createTemporaryDatabase, type TemporaryDatabase } from './postgres.ts';

export interface Classroom {
  service: Service;
  platform: Platform;
  close(): Promise<void>;
}

/** The platform knows the tool's URLs under `toolUrl` (what an LMS admin types in once). */
export function useToolAt(platform: Platform, toolUrl: string): void {
  platform.useTool({ loginUrl: `${toolUrl}/lti/login`, launchUrl: `${toolUrl}/lti/launch`, jwksUrl: `${toolUrl}/lti/keys` });
}

/** Each trusts the other: the tool registers the platform, the platform the tool. */
export async function introduce(service: Service, platform: Platform): Promise<void> {
  const registration = platform.registration();
  await service.lti.platforms.add(registration, registration.deploymentIds);
  useToolAt(platform, service.url);
}

export interface ClassroomOptions {
  /** Settings for the tool on top of the test defaults. */
  env?: Record<string, string>;
  /** A PostgreSQL server to run on (a database of its own is made and dropped); PGlite otherwise. */
  databaseUrl?: string;
  /** Where the platform's URLs point: 'localhost' puts it on another site than the tool. */
  hostname?: 'localhost' | '127.0.0.1';
  /** The tool's logger (a test that reads the log); otherwise one at the settings' level. */
  logger?: Logger;
}

export async function startClassroom(flavor: Flavor, { env = {}, databaseUrl, hostname, logger }: ClassroomOptions = {}): Promise<Classroom> {
  const dataDir = mkdtempSync(join(tmpdir(), `lc-${flavor}-`));
  let temporary: TemporaryDatabase | undefined;
  if (databaseUrl) temporary = await createTemporaryDatabase(databaseUrl);
  const settings = parseSettings({
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ...(temporary ? { DATABASE_URL: temporary.url } : {}),
    ...mediaWorkerSettings,
    ...env,
  });
  const service = await Service.start(settings, logger ?? createLogger(settings.logLevel));
  await service.whenDatabaseReady();
  const platform = await Platform.start({ flavor, ...(hostname ? { hostname } : {}) });
  await introduce(service, platform);
  return {
    service,
    platform,
    async close() {
      await platform.close();
      await service.stop();
      await temporary?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Launched {
  status: number;
  body: string;
  /** The seat token of the class page, when the launch got one. */
  seat: string | undefined;
}

export async function launchAs(platform: Platform, opts: LaunchOptions): Promise<Launched> {
  const result = await platform.launch(opts);
  if (result.stage !== 'launched') throw new Error(`the launch stopped at ${result.stage}: ${result.response.status} ${result.response.body.slice(0, 300)}`);
  const seat = /seat-token="([^"]+)"/.exec(result.response.body)?.[1];
  return { status: result.response.status, body: result.response.body, seat };
}

/** The text of a refusal page. */
export function alertText(body: string): string {
  return /<main role="alert">([\s\S]*?)<\/main>/.exec(body)?.[1]?.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/\s+/g, ' ').trim() ?? body.slice(0, 200);
}

export type Admission = (
  | { kind: 'welcome'; socket: Socket; state: { grant: string; reason: string; status: string; participants: number } }
  | { kind: 'revoked'; socket: Socket; reason: string }
  | { kind: 'error'; socket: Socket; message: string }
) & {
  /** The node URLs the server sent this connection to before the verdict, as the widget follows them. */
  redirects: string[];
};

/**
 * Opens the widget's socket with a seat token and waits for the server's verdict (5 s at most),
 * following the redirects to a room's node (three at most) as the widget does.
 */
export async function connect(service: Pick<Service, 'url'>, seat: string | undefined, client?: string): Promise<Admission> {
  const redirects: string[] = [];
  let url = service.url;
  for (;;) {
    const admission = await connectOnce(url, seat, client);
    if (admission.kind !== 'error' || admission.node === undefined || redirects.length >= 3) return { ...admission, redirects };
    admission.socket.close();
    redirects.push(admission.node);
    url = admission.node;
  }
}

function connectOnce(url: string, seat: string | undefined, client?: string) {
  const auth = { ...(seat === undefined ? {} : { seat }), ...(client === undefined ? {} : { client }) };
  const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  type Verdict =
    | { kind: 'welcome'; socket: Socket; state: { grant: string; reason: string; status: string; participants: number } }
    | { kind: 'revoked'; socket: Socket; reason: string }
    | { kind: 'error'; socket: Socket; message: string; node?: string };
  return new Promise<Verdict>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer from ${url} within 5 s`));
    }, 5_000);
    const done = (verdict: Verdict) => {
      clearTimeout(timer);
      resolve(verdict);
    };
    socket.once('welcome', (state) => done({ kind: 'welcome', socket, state }));
    socket.once('access:revoked', ({ reason }) => done({ kind: 'revoked', socket, reason }));
    socket.once('connect_error', (error) => {
      const node = (error as Error & { data?: { node?: unknown } }).data?.node;
      done({ kind: 'error', socket, message: error.message, ...(typeof node === 'string' ? { node } : {}) });
    });
  });
}

/** Emits an event and resolves with its acknowledgement (`timeoutMs` at most). */
export function request<T = Record<string, unknown>>(socket: Socket, event: string, payload: unknown, timeoutMs = 5_000): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}
