// A subscriber worker: holds a share of the benchmark's synthetic subscribers (LoadTestPeer, werift,
// no decoding) and reports what they received. Signaling goes through the parent (bench/fanout.ts),
// which relays it to the SFU process.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LoadTestPeer, type LoadTestPeerStats } from '../../server/media/loadtest-peer.ts';
import { parentChannel } from './ipc.ts';

/** [packets, expected, gaps], summed over a subscriber's streams of one kind, cumulative. */
export type StreamCounts = [number, number, number];

export interface WorkerSnapshot {
  at: number;
  cpuUser: number;
  cpuSystem: number;
  connected: number;
  /** Event-loop delay since the previous snapshot, ms: a busy worker reads its sockets late (and drops). */
  loopP99Ms: number;
  /** By subscriber user id. */
  peers: Record<string, { connected: boolean; audio: StreamCounts; video: StreamCounts }>;
}

export interface AddResult {
  connected: number;
  failed: number;
  errors: string[];
}

const channel = parentChannel();
const peers = new Map<string, LoadTestPeer>();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

async function connect(userId: string): Promise<void> {
  const peer = new LoadTestPeer({ hostAddresses: ['127.0.0.1'] });
  peers.set(userId, peer);
  const offerSdp = await channel.call<string>('subscribe', { userId });
  const answerSdp = await peer.answer(offerSdp);
  await channel.call('answer', { userId, sdp: answerSdp });
  await peer.connected(30_000);
}

async function add(userIds: string[], concurrency: number): Promise<AddResult> {
  const queue = [...userIds];
  const result: AddResult = { connected: 0, failed: 0, errors: [] };
  const lane = async () => {
    for (let userId = queue.shift(); userId !== undefined; userId = queue.shift()) {
      try {
        await connect(userId);
        result.connected++;
      } catch (error) {
        result.failed++;
        if (result.errors.length < 3) result.errors.push(`${userId}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return result;
}

function counts(stats: LoadTestPeerStats, kind: 'audio' | 'video'): StreamCounts {
  const out: StreamCounts = [0, 0, 0];
  for (const stream of stats.streams) {
    if (stream.kind !== kind) continue;
    out[0] += stream.packets;
    out[1] += stream.expected;
    out[2] += stream.gaps;
  }
  return out;
}

function snapshot(): WorkerSnapshot {
  const cpu = process.cpuUsage();
  const loopP99Ms = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0;
  loopDelay.reset();
  const out: WorkerSnapshot = { at: performance.now(), cpuUser: cpu.user, cpuSystem: cpu.system, connected: 0, loopP99Ms, peers: {} };
  for (const [userId, peer] of peers) {
    const stats = peer.stats();
    const connected = stats.connectionState === 'connected';
    if (connected) out.connected++;
    out.peers[userId] = { connected, audio: counts(stats, 'audio'), video: counts(stats, 'video') };
  }
  return out;
}

channel.handleRequest = async (op, args) => {
  switch (op) {
    case 'add': {
      const { userIds, concurrency } = args as { userIds: string[]; concurrency: number };
      return add(userIds, concurrency);
    }
    case 'snapshot':
      return snapshot();
    case 'close':
      await Promise.all([...peers.values()].map((peer) => peer.close()));
      peers.clear();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown op ${op}`);
  }
};

// The SFU's renegotiation offers (its published tracks changed), answered in order per peer.
channel.handleEvent = (name, data) => {
  if (name !== 'renegotiate') return;
  const { userId, offerSdp } = data as { userId: string; offerSdp: string };
  const peer = peers.get(userId);
  if (!peer) return;
  peer
    .answer(offerSdp)
    .then((sdp) => channel.call('answer', { userId, sdp }))
    .catch((error: unknown) => channel.emit('failure', { userId, message: error instanceof Error ? error.message : String(error) }));
};

channel.emit('ready', { pid: process.pid });
