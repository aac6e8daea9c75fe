// Every setting the tool reads, in one zod schema. Each environment variable is parsed on its own
// so a bad value can be reported as one line that names the setting, the value and what is expected.
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Settings {
  /** TCP port of the HTTP server; 0 picks a free one. */
  port: number;
  /** Address to bind; undefined binds every interface. */
  host: string | undefined;
  /** The URL browsers and LMSs use to reach the tool, without a trailing slash. */
  publicUrl: string;
  dataDir: string;
  /** PostgreSQL server; undefined means the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** This process among several sharing REDIS_URL: its name, and the URL browsers reach it at directly. */
  node: { id: string; url: string };
  /** Bearer token /metrics asks for; undefined serves it only to loopback and private addresses. */
  metricsToken: string | undefined;
  recordingsDir: string;
  /** Key that encrypts what ltijs stores; undefined means generated once and kept in `dataDir`. */
  ltiKey: string | undefined;
  /** Platforms that register themselves (LTI Dynamic Registration) may launch at once, without `platform activate`. */
  ltiAutoActivate: boolean;
  /** Hosts LTI Dynamic Registration may reach although they resolve to loopback or private addresses. */
  ltiRegistrationPrivateHosts: string[];
  rtc: {
    announcedIp: string | undefined;
    minPort: number;
    maxPort: number;
    /** Most receiving connections this node serves at once; beyond it a newcomer is refused rather than everyone degraded. */
    maxSubscribers: number;
    /** How long a browser tab's media connections are kept after its socket drops (a network blip). */
    graceSeconds: number;
    /** A media connection that has not completed ICE and DTLS after this long is closed. */
    connectTimeoutSeconds: number;
    /** Bounds of the video bitrate asked of a publisher (the lowest its receivers can take), in kbit/s. */
    minVideoKbps: number;
    maxVideoKbps: number;
    /** Video codecs taken from presenters' browsers, most wanted first. */
    videoCodecs: Array<'H264' | 'VP8'>;
    /** The SFU engine: mediasoup when its worker runs here (auto), or as set. */
    engine: 'auto' | 'mediasoup' | 'werift';
    /**
     * mediasoup: worker processes (undefined: one per core). werift: threads serving subscribers
     * (undefined: none, all media on the main thread).
     */
    workers: number | undefined;
  };
  /** Most participants in one room at once (hosts excepted), unless the room sets its own. */
  roomSeatLimit: number;
  turn: { urls: string[]; secret: string | undefined };
  ffmpegPath: string;
  recording: {
    /** Recordings older than this are removed; undefined keeps them. */
    retentionDays: number | undefined;
    /** How long a signed playlist/segment link works. */
    linkMinutes: number;
  };
  logLevel: LogLevel;
  access: {
    /** How long memberships and payment results read from the LMS are reused. */
    cacheSeconds: number;
    /** How often everyone in a live class is checked again (a student whose enrollment or payment was revoked leaves within this time). */
    recheckSeconds: number;
    /** How long a payment the LMS confirmed still admits a student while the LMS cannot be reached. */
    paymentGraceHours: number;
  };
}

/** One line per bad setting, ready to print. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Source = Readonly<Record<string, string | undefined>>;

interface SettingSpec<T> {
  expected: string;
  /** Secrets are never echoed back; only their length is. */
  secret?: boolean;
  schema: z.ZodType<T>;
}

const text = z.string().trim().min(1);
const port = (min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(65535));
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false };
const boolean = text
  .transform((v) => v.toLowerCase())
  .refine((v) => Object.hasOwn(BOOLEANS, v))
  .transform((v) => BOOLEANS[v] as boolean);
const urlWithProtocols = (protocols: string[], plain = false) =>
  text.refine((value) => {
    try {
      const url = new URL(value);
      return protocols.includes(url.protocol) && (!plain || (url.search === '' && url.hash === ''));
    } catch {
      return false;
    }
  });

const specs = {
  PORT: { expected: 'a TCP port number from 0 to 65535', schema: port(0) },
  HOST: { expected: 'an IP address to listen on, such as 127.0.0.1 or ::', schema: text.refine((v) => isIP(v) !== 0) },
  PUBLIC_URL: {
    expected: 'an http:// or https:// URL without query or fragment, such as https://live.example.edu',
    schema: urlWithProtocols(['http:', 'https:'], true),
  },
  DATA_DIR: { expected: 'a folder path', schema: text },
  DATABASE_URL: {
    expected: 'a postgres:// or postgresql:// connection URL, or unset for the embedded database',
    secret: true,
    schema: urlWithProtocols(['postgres:', 'postgresql:']),
  },
  REDIS_URL: { expected: 'a redis:// or rediss:// URL', secret: true, schema: urlWithProtocols(['redis:', 'rediss:']) },
  NODE_ID: { expected: 'a name of letters, digits, dots, dashes or underscores (1 to 64), unique among the nodes sharing REDIS_URL', schema: text.regex(/^[A-Za-z0-9._-]{1,64}$/) },
  NODE_URL: {
    expected: 'the http:// or https:// URL that reaches this node directly, without query or fragment, such as https://live.example.edu/node/a',
    schema: urlWithProtocols(['http:', 'https:'], true),
  },
  METRICS_TOKEN: { expected: 'at least 16 characters', secret: true, schema: text.min(16) },
  RECORDINGS_DIR: { expected: 'a folder path', schema: text },
  LTI_KEY: { expected: 'at least 32 characters, or unset to generate one', secret: true, schema: text.min(32) },
  LTI_AUTO_ACTIVATE: { expected: 'true or false', schema: boolean },
  LTI_REGISTRATION_PRIVATE_HOSTS: {
    expected: 'comma-separated host names or IP addresses (*.example.edu for every host under example.edu), such as moodle.campus.local,10.1.2.3',
    schema: text
      .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))
      .refine((hosts) => hosts.length > 0 && hosts.every((h) => /^(\*\.)?[a-z0-9._:-]{1,253}$/.test(h.replace(/^\[|\]$/g, '')))),
  },
  RTC_ANNOUNCED_IP: { expected: 'the public IPv4 or IPv6 address of this machine', schema: text.refine((v) => isIP(v) !== 0) },
  RTC_MIN_PORT: { expected: 'a UDP port number from 1024 to 65535', schema: port(1024) },
  RTC_MAX_PORT: { expected: 'a UDP port number from 1024 to 65535', schema: port(1024) },
  MEDIA_MAX_SUBSCRIBERS: { expected: 'a whole number from 1 to 100000', schema: wholeNumber(1, 100_000) },
  MEDIA_GRACE_SECONDS: { expected: 'a whole number of seconds from 0 to 300', schema: wholeNumber(0, 300) },
  MEDIA_CONNECT_TIMEOUT_SECONDS: { expected: 'a whole number of seconds from 1 to 120', schema: wholeNumber(1, 120) },
  MEDIA_MIN_VIDEO_KBPS: { expected: 'a whole number of kbit/s from 30 to 50000', schema: wholeNumber(30, 50_000) },
  MEDIA_MAX_VIDEO_KBPS: { expected: 'a whole number of kbit/s from 30 to 50000', schema: wholeNumber(30, 50_000) },
  MEDIA_VIDEO_CODECS: {
    expected: 'H264 and/or VP8, comma-separated, most wanted first, such as H264,VP8',
    schema: text
      .transform((v) => v.split(',').map((c) => c.trim().toUpperCase()).filter((c) => c !== ''))
      .refine((list) => list.length > 0 && list.every((c) => c === 'H264' || c === 'VP8') && new Set(list).size === list.length)
      .transform((list) => list as Array<'H264' | 'VP8'>),
  },
  MEDIA_ENGINE: { expected: 'auto, mediasoup or werift', schema: z.enum(['auto', 'mediasoup', 'werift']) },
  MEDIA_WORKERS: {
    expected: 'auto, or a whole number of workers from 0 to 64 (mediasoup worker processes; werift subscriber threads)',
    schema: text.refine((v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) <= 64)).transform((v) => (v === 'auto' ? undefined : Number(v))),
  },
  ROOM_SEAT_LIMIT: { expected: 'a whole number from 1 to 100000', schema: wholeNumber(1, 100_000) },
  TURN_URLS: {
    expected: 'a comma-separated list of stun:, turn: or turns: URLs',
    schema: text
      .transform((v) => v.split(',').map((u) => u.trim()).filter((u) => u !== ''))
      .refine((urls) => urls.every((u) => /^(stun|turns?):[^\s]+$/.test(u))),
  },
  TURN_SECRET: { expected: 'the shared secret configured in the TURN server (static-auth-secret)', secret: true, schema: text },
  FFMPEG_PATH: { expected: 'the path or name of the ffmpeg executable', schema: text },
  RECORDING_RETENTION_DAYS: { expected: 'a whole number of days from 1 to 3650, or unset to keep recordings', schema: wholeNumber(1, 3650) },
  RECORDING_LINK_MINUTES: { expected: 'a whole number of minutes from 5 to 1440', schema: wholeNumber(5, 1440) },
  LOG_LEVEL: { expected: `one of ${LOG_LEVELS.join(', ')}`, schema: z.enum(LOG_LEVELS) },
  ACCESS_CACHE_SECONDS: { expected: 'a whole number of seconds from 0 to 300', schema: wholeNumber(0, 300) },
  ACCESS_RECHECK_SECONDS: { expected: 'a whole number of seconds from 1 to 60', schema: wholeNumber(1, 60) },
  PAYMENT_GRACE_HOURS: { expected: 'a whole number of hours from 0 to 168', schema: wholeNumber(0, 168) },
} satisfies Record<string, SettingSpec<unknown>>;

export type SettingName = keyof typeof specs;
export const SETTING_NAMES = Object.keys(specs) as SettingName[];

const DEFAULTS: Partial<Record<SettingName, string>> = {
  PORT: '3000',
  DATA_DIR: './data',
  RTC_MIN_PORT: '40000',
  RTC_MAX_PORT: '40999',
  MEDIA_MAX_SUBSCRIBERS: '150',
  ROOM_SEAT_LIMIT: '300',
  MEDIA_GRACE_SECONDS: '15',
  MEDIA_CONNECT_TIMEOUT_SECONDS: '20',
  MEDIA_MIN_VIDEO_KBPS: '150',
  MEDIA_MAX_VIDEO_KBPS: '2500',
  MEDIA_VIDEO_CODECS: 'H264,VP8',
  MEDIA_ENGINE: 'auto',
  MEDIA_WORKERS: 'auto',
  FFMPEG_PATH: 'ffmpeg',
  RECORDING_LINK_MINUTES: '240',
  LOG_LEVEL: 'info',
  LTI_AUTO_ACTIVATE: 'false',
  ACCESS_CACHE_SECONDS: '30',
  ACCESS_RECHECK_SECONDS: '30',
  PAYMENT_GRACE_HOURS: '24',
};

/** A connection URL with its password replaced, safe for a log line; undefined if it is no URL. */
export function redactUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return undefined;
  }
}

/** What a person may see of a value: secrets keep only their length, URLs lose their password. */
export function displayValue(name: SettingName, raw: string): string {
  const spec: SettingSpec<unknown> = specs[name];
  if (!spec.secret) return JSON.stringify(raw);
  const url = redactUrl(raw);
  return url === undefined ? `(hidden, ${raw.length} characters)` : JSON.stringify(url);
}

type Parsed = { [K in SettingName]: z.output<(typeof specs)[K]['schema']> | undefined };

/**
 * Builds the settings from a source of variables (the environment, in production).
 * Empty values count as unset. Throws ConfigError listing every bad setting.
 */
export function parseSettings(source: Source, cwd: string = process.cwd()): Settings {
  const problems: string[] = [];
  const parsed = {} as Record<SettingName, unknown>;
  for (const name of SETTING_NAMES) {
    const given = source[name];
    const raw = given !== undefined && given.trim() !== '' ? given : DEFAULTS[name];
    if (raw === undefined) {
      parsed[name] = undefined;
      continue;
    }
    const spec: SettingSpec<unknown> = specs[name];
    const result = spec.schema.safeParse(raw);
    if (result.success) parsed[name] = result.data;
    else problems.push(`Setting ${name}=${displayValue(name, raw)} is invalid: expected ${spec.expected}.`);
  }
  const p = parsed as Parsed;

  if (p.RTC_MIN_PORT !== undefined && p.RTC_MAX_PORT !== undefined && p.RTC_MIN_PORT >= p.RTC_MAX_PORT) {
    problems.push(
      `Setting RTC_MAX_PORT=${p.RTC_MAX_PORT} is invalid: expected a port above RTC_MIN_PORT (${p.RTC_MIN_PORT}).`,
    );
  }
  const workers = p.MEDIA_WORKERS as number | undefined;
  if (workers && p.RTC_MIN_PORT !== undefined && p.RTC_MAX_PORT !== undefined && (p.RTC_MAX_PORT - p.RTC_MIN_PORT + 1) / (workers + 1) < 2) {
    problems.push(
      `Setting MEDIA_WORKERS=${workers} is invalid: RTC_MIN_PORT..RTC_MAX_PORT (${p.RTC_MIN_PORT}-${p.RTC_MAX_PORT}) is cut into one share per worker and one for the main thread, at least two ports each.`,
    );
  }
  if (p.MEDIA_MIN_VIDEO_KBPS !== undefined && p.MEDIA_MAX_VIDEO_KBPS !== undefined && p.MEDIA_MIN_VIDEO_KBPS > p.MEDIA_MAX_VIDEO_KBPS) {
    problems.push(
      `Setting MEDIA_MAX_VIDEO_KBPS=${p.MEDIA_MAX_VIDEO_KBPS} is invalid: expected at least MEDIA_MIN_VIDEO_KBPS (${p.MEDIA_MIN_VIDEO_KBPS}).`,
    );
  }
  if (p.TURN_URLS?.some((u) => u.startsWith('turn')) && p.TURN_SECRET === undefined) {
    problems.push(
      'Setting TURN_SECRET is missing: expected the TURN server\'s shared secret, because TURN_URLS lists turn: servers.',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const port = p.PORT as number;
  const dataDir = resolve(cwd, p.DATA_DIR as string);
  const publicUrl = (p.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    port,
    host: p.HOST,
    publicUrl,
    dataDir,
    databaseUrl: p.DATABASE_URL,
    redisUrl: p.REDIS_URL,
    node: { id: p.NODE_ID ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64), url: (p.NODE_URL ?? publicUrl).replace(/\/+$/, '') },
    metricsToken: p.METRICS_TOKEN,
    recordingsDir: p.RECORDINGS_DIR === undefined ? join(dataDir, 'recordings') : resolve(cwd, p.RECORDINGS_DIR),
    ltiKey: p.LTI_KEY,
    ltiAutoActivate: p.LTI_AUTO_ACTIVATE as boolean,
    ltiRegistrationPrivateHosts: p.LTI_REGISTRATION_PRIVATE_HOSTS ?? [],
    rtc: {
      announcedIp: p.RTC_ANNOUNCED_IP,
      minPort: p.RTC_MIN_PORT as number,
      maxPort: p.RTC_MAX_PORT as number,
      maxSubscribers: p.MEDIA_MAX_SUBSCRIBERS as number,
      graceSeconds: p.MEDIA_GRACE_SECONDS as number,
      connectTimeoutSeconds: p.MEDIA_CONNECT_TIMEOUT_SECONDS as number,
      minVideoKbps: p.MEDIA_MIN_VIDEO_KBPS as number,
      maxVideoKbps: p.MEDIA_MAX_VIDEO_KBPS as number,
      videoCodecs: p.MEDIA_VIDEO_CODECS as Array<'H264' | 'VP8'>,
      engine: p.MEDIA_ENGINE as 'auto' | 'mediasoup' | 'werift',
      workers: p.MEDIA_WORKERS as number | undefined,
    },
    roomSeatLimit: p.ROOM_SEAT_LIMIT as number,
    turn: { urls: p.TURN_URLS ?? [], secret: p.TURN_SECRET },
    ffmpegPath: p.FFMPEG_PATH as string,
    recording: { retentionDays: p.RECORDING_RETENTION_DAYS as number | undefined, linkMinutes: p.RECORDING_LINK_MINUTES as number },
    logLevel: p.LOG_LEVEL as LogLevel,
    access: {
      cacheSeconds: p.ACCESS_CACHE_SECONDS as number,
      recheckSeconds: p.ACCESS_RECHECK_SECONDS as number,
      paymentGraceHours: p.PAYMENT_GRACE_HOURS as number,
    },
  };
}
