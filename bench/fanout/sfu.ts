// The SFU under test, alone in its own process: a WeriftEngine driven over IPC by bench/fanout.ts.
// Reports its own CPU time, event-loop delay and media counters as cumulative snapshots (the
// benchmark takes deltas), and can CPU-profile itself for a while (inspector, in-process).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WeriftEngine, type MediaStats, type WorkerStats } from '../../server/media/index.ts';
import { parentChannel } from './ipc.ts';

const ROOM = 'fanout';

export interface SfuSnapshot {
  at: number;
  /** process.cpuUsage(), µs: every thread of the process (the main thread and any media workers). */
  cpuUser: number;
  cpuSystem: number;
  /** process.threadCpuUsage(), µs: the main thread alone (publishers, signaling, and posting packets to workers). */
  mainUser: number;
  mainSystem: number;
  stats: MediaStats;
  /** Per subscriber worker thread (empty without workers). */
  workers: WorkerStats[];
  /** Event-loop delay since the previous snapshot, ms. */
  loopDelayMeanMs: number;
  loopDelayP99Ms: number;
}

const channel = parentChannel();
// argv[2]: subscriber worker threads (MediaServerOptions.workers; 0 = all on the main thread).
const workers = Number(process.argv[2] ?? 0);
const media = new WeriftEngine({ iceServers: [], hostAddresses: ['127.0.0.1'], workers });
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let profiler: Session | undefined;

media.on('renegotiate', ({ userId, offerSdp }) => channel.emit('renegotiate', { userId, offerSdp }));
media.on('failure', ({ userId, error }) => channel.emit('failure', { userId, message: error.message }));

interface SdpArgs {
  userId: string;
  sdp: string;
}

function snapshot(): SfuSnapshot {
  const cpu = process.cpuUsage();
  const main = process.threadCpuUsage();
  const result: SfuSnapshot = {
    at: performance.now(),
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    mainUser: main.user,
    mainSystem: main.system,
    stats: media.stats(),
    workers: media.workerStats(),
    loopDelayMeanMs: loopDelay.count > 0 ? loopDelay.mean / 1e6 : 0,
    loopDelayP99Ms: loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0,
  };
  loopDelay.reset();
  return result;
}

channel.handleRequest = async (op, args) => {
  switch (op) {
    case 'publish': {
      const { userId, sdp } = args as SdpArgs;
      return media.publish(ROOM, userId, sdp);
    }
    case 'subscribe':
      return media.subscribe(ROOM, (args as { userId: string }).userId);
    case 'answer': {
      const { userId, sdp } = args as SdpArgs;
      await media.acceptAnswer(ROOM, userId, sdp);
      return null;
    }
    case 'leave':
      await media.leave(ROOM, (args as { userId: string }).userId);
      return null;
    case 'snapshot':
      return snapshot();
    case 'profile-start': {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: (args as { intervalUs: number }).intervalUs });
      await profiler.post('Profiler.start');
      return null;
    }
    case 'profile-stop': {
      if (!profiler) throw new Error('no profile running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync((args as { file: string }).file, JSON.stringify(profile));
      return null;
    }
    case 'close':
      await media.close();
      loopDelay.disable();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown op ${op}`);
  }
};

channel.emit('ready', { pid: process.pid });
