// What the tool counts for Prometheus (/metrics): a registry per Service (tests run several in one
// process), names prefixed `live_classroom_`. Sizes (rooms, participants, recordings) and the SFU's
// own counters are read when Prometheus scrapes; access decisions and launches are counted as they
// happen, through callbacks the service hands to access/ and lti/ (neither imports prom-client).
// Until the database is ready there are no classes, SFU or recorder: their metrics say 0.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Trigger as DecisionTrigger } from '../access/index.ts';
import type { Grant } from '../db/index.ts';
import type { MediaStats } from '../media/index.ts';

/** How a launch ended: `ok` (answered), `refused` (a 4xx page), `error` (a 5xx, or no complete answer). */
export type LaunchOutcome = 'ok' | 'refused' | 'error';

const GRANTS: readonly Grant[] = ['host', 'speaker', 'attendee', 'denied'];
const TRIGGERS: readonly DecisionTrigger[] = ['launch', 'join', 'recheck', 'replay'];
const LAUNCH_OUTCOMES: readonly LaunchOutcome[] = ['ok', 'refused', 'error'];
/** Seconds: a launch writes a few rows and may ask the LMS (NRPS, AGS) before it answers. */
const LAUNCH_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Tabs admitted to a room on this node, by grant, and the rooms that have any. */
export type Participants = { byGrant: Record<Exclude<Grant, 'denied'>, number>; rooms: number };

export interface MetricsSources {
  /** The admitted tabs, once the database is ready. */
  participants: () => Participants | undefined;
  /** The SFU's counters, once the database is ready. */
  media: () => Promise<MediaStats> | MediaStats | undefined;
  /** The recorder, once the database is ready. */
  recordings: () => { readonly running: number } | undefined;
  databaseReady: () => boolean;
}

const NOBODY: Participants = { byGrant: { host: 0, speaker: 0, attendee: 0 }, rooms: 0 };

/** Node's process metrics (CPU, memory, event loop lag, GC): one set per process, however many services it runs. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #decisions: Counter<'outcome' | 'trigger'>;
  readonly #launches: Counter<'outcome'>;
  readonly #launchSeconds: Histogram<'outcome'>;
  readonly #unhandled: Counter<'kind'>;
  readonly #workerExits: Counter<'engine'>;
  readonly #sources: MetricsSources;
  /** Read once per scrape (render()), since each walks every room, track and socket. */
  #media: MediaStats | undefined;
  #participants: Participants = NOBODY;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    const registers = [this.registry];
    const media = (): MediaStats | undefined => this.#media;
    const participants = (): Participants => this.#participants;
    /** A gauge whose value is read at scrape time. */
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    /** A counter that mirrors a total kept elsewhere (the SFU's), read at scrape time. */
    const total = (name: string, help: string, read: (stats: MediaStats) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          const stats = media();
          this.reset();
          this.inc(stats ? read(stats) : 0);
        },
      });

    gauge('live_classroom_database_ready', '1 once the database is connected and migrated, else 0.', () => (sources.databaseReady() ? 1 : 0));
    gauge('live_classroom_rooms_live', 'Rooms whose live class has media on this node (SFU rooms with at least one sending or receiving connection).', () => media()?.rooms ?? 0);
    gauge('live_classroom_rooms_occupied', 'Rooms with at least one participant admitted on this node.', () => participants().rooms);
    new Gauge({
      name: 'live_classroom_participants',
      help: 'Connections (browser tabs) admitted to a room on this node, by grant.',
      labelNames: ['grant'],
      registers,
      collect() {
        const { byGrant } = participants();
        for (const [grant, count] of Object.entries(byGrant)) this.set({ grant }, count);
      },
    });
    gauge('live_classroom_media_publishers', 'Sending connections (camera, microphone, screen) on this node\'s SFU.', () => media()?.publishers ?? 0);
    gauge('live_classroom_media_subscribers', 'Receiving connections on this node\'s SFU.', () => media()?.subscribers ?? 0);
    gauge('live_classroom_media_tracks', 'Tracks published on this node\'s SFU.', () => media()?.tracks ?? 0);
    total('live_classroom_rtp_packets_received_total', 'RTP packets the SFU received from publishers.', (s) => s.packetsReceived);
    total('live_classroom_rtp_packets_forwarded_total', 'RTP packets the SFU sent to subscribers (one per packet and subscriber).', (s) => s.packetsForwarded);
    total('live_classroom_rtp_bytes_forwarded_total', 'RTP bytes (header and payload, before SRTP) the SFU sent to subscribers.', (s) => s.bytesForwarded);
    total('live_classroom_keyframe_requests_total', 'Keyframe requests (PLI) the SFU sent to publishers.', (s) => s.keyframeRequests);
    new Counter({
      name: 'live_classroom_rtp_packets_lost_total',
      help:
        'RTP packets lost. seen_by="sfu": publishers\' packets that never reached the SFU (sequence-number gaps, after NACK repair). ' +
        'seen_by="subscriber": what subscribers\' receiver reports say they lost, end to end (a gap from the publisher counts again for each subscriber).',
      labelNames: ['seen_by'],
      registers,
      collect() {
        const stats = media();
        this.reset();
        this.inc({ seen_by: 'sfu' }, stats?.packetsLostFromPublishers ?? 0);
        this.inc({ seen_by: 'subscriber' }, stats?.packetsLostBySubscribers ?? 0);
      },
    });
    gauge('live_classroom_recordings_running', 'Recordings running (FFmpeg writing HLS) on this node.', () => sources.recordings()?.running ?? 0);

    this.#decisions = new Counter({
      name: 'live_classroom_access_decisions_total',
      help: 'Access decisions by outcome (the grant given, or denied) and by what asked (launch, socket join, periodic re-check, recording replay).',
      labelNames: ['outcome', 'trigger'],
      registers,
    });
    for (const outcome of GRANTS) for (const trigger of TRIGGERS) this.#decisions.inc({ outcome, trigger }, 0);
    this.#launches = new Counter({
      name: 'live_classroom_launches_total',
      help: 'LTI launches (POST /lti/launch) by outcome: ok (answered), refused (4xx page), error (5xx, or no complete answer).',
      labelNames: ['outcome'],
      registers,
    });
    this.#launchSeconds = new Histogram({
      name: 'live_classroom_launch_duration_seconds',
      help: 'Time from a launch request\'s arrival to the end of its answer, by outcome.',
      labelNames: ['outcome'],
      buckets: LAUNCH_BUCKETS,
      registers,
    });
    for (const outcome of LAUNCH_OUTCOMES) {
      this.#launches.inc({ outcome }, 0);
      this.#launchSeconds.zero({ outcome });
    }
    this.#unhandled = new Counter({
      name: 'live_classroom_unhandled_errors_total',
      help: 'Failures no code path caught: kind="rejection" (a promise nobody awaited; logged, the process serves on), kind="exception" (the process drains and exits).',
      labelNames: ['kind'],
      registers,
    });
    this.#unhandled.inc({ kind: 'rejection' }, 0);
    this.#unhandled.inc({ kind: 'exception' }, 0);
    this.#workerExits = new Counter({
      name: 'live_classroom_media_worker_exits_total',
      help: 'SFU workers that stopped unexpectedly (a mediasoup worker process, or a werift subscriber thread); each is replaced, and its participants reconnect their media.',
      labelNames: ['engine'],
      registers,
    });
    for (const engine of ['mediasoup', 'werift']) this.#workerExits.inc({ engine }, 0);
  }

  mediaWorkerExit(engine: 'mediasoup' | 'werift'): void {
    this.#workerExits.inc({ engine });
  }

  unhandled(kind: 'rejection' | 'exception'): void {
    this.#unhandled.inc({ kind });
  }

  accessDecision(outcome: Grant, trigger: DecisionTrigger): void {
    this.#decisions.inc({ outcome, trigger });
  }

  launch(outcome: LaunchOutcome, seconds: number): void {
    this.#launches.inc({ outcome });
    this.#launchSeconds.observe({ outcome }, seconds);
  }

  /** The exposition: this service's metrics, then the process's. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.#media = await this.#sources.media();
    this.#participants = this.#sources.participants() ?? NOBODY;
    const own = await this.registry.metrics();
    const process = await processMetrics().metrics();
    return { contentType: this.registry.contentType, body: own + process };
  }
}
