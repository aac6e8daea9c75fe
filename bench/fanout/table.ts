// The fan-out benchmark's table (bench/fanout.ts): one row per number of subscribers.
import { cpus } from 'node:os';

export interface Row {
  n: number;
  connected: number;
  sfuCpu: number;
  /** The SFU's main thread alone (publishers, signaling, posting to workers); = sfuCpu without workers. */
  mainCpu: number;
  rxPps: number;
  fwdPps: number;
  fwdPerCore: number;
  /** Mean over subscribers of sequence gaps / expected (loss before any NACK repair). */
  lossMean: number;
  lossMax: number;
  /** Mean over subscribers of (expected − received) / expected (after retransmissions). */
  residual: number;
  upstreamLoss: number;
  subCpu: number;
  /** All cores of the machine busy (1 = every core), everything included. */
  hostBusy: number;
  loopP99Ms: number;
  /** Worst subscriber process. */
  subLoopP99Ms: number;
  pubKbps: number;
  pubRes: string;
  /** Per-thread CPU of the SFU process (threads.ts), printed under the row. */
  threads: string;
}

export const HEADER = ['N', 'conn', 'SFU CPU', 'main thr', 'rx pkt/s', 'fwd pkt/s', 'fwd/s/core', 'loss mean', 'loss max', 'residual', 'pub→SFU', 'subs CPU', 'host busy', 'SFU loop', 'subs loop', 'pub video'];
const WIDTHS = [4, 5, 8, 9, 9, 10, 11, 10, 9, 9, 8, 9, 10, 9, 10, 22];
export const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
export function formatRow(cells: string[]): string {
  return cells.map((cell, i) => cell.padStart(WIDTHS[i] ?? 8)).join(' ');
}
export function rowCells(row: Row): string[] {
  return [
    String(row.n),
    String(row.connected),
    pct(row.sfuCpu, 0),
    pct(row.mainCpu, 0),
    row.rxPps.toFixed(0),
    row.fwdPps.toFixed(0),
    row.fwdPerCore.toFixed(0),
    pct(row.lossMean, 2),
    pct(row.lossMax, 1),
    pct(row.residual, 2),
    pct(row.upstreamLoss, 1),
    pct(row.subCpu, 0),
    pct(row.hostBusy, 0),
    `${row.loopP99Ms.toFixed(0)} ms`,
    `${row.subLoopP99Ms.toFixed(0)} ms`,
    `${row.pubKbps.toFixed(0)} kb/s ${row.pubRes}`,
  ];
}

/** What the columns mean. */
export function legend(workers: number, nice: number): string {
  return [
    'columns: SFU CPU = SFU process CPU time, all its threads / wall time (100% = one core); main thr = its main thread alone; rx = RTP packets/s from the publisher; fwd = packets/s',
    '  handed to subscriber senders; fwd/s/core = fwd / SFU CPU fraction; loss = RTP sequence gaps / expected at each subscriber',
    '  (mean, worst), before NACK repair; residual = (expected − received) / expected after retransmissions; pub→SFU = 1 − SFU rx /',
    '  Chromium packetsSent; subs CPU = all subscriber processes together (100% = one core); host busy = whole machine (100% = all',
    '  cores, Chromium and any other load included); SFU/subs loop = event-loop delay p99 (SFU; worst subscriber process); pub video =',
    '  Chromium outbound video (the fake camera compresses well, so it sends fewer packets than a real camera at the same size: scale by',
    '  rx pkt/s, e.g. subscribers at 80% of a core ≈ fwd/s/core × 0.8 ÷ rx pkt/s).',
    `note: ${cpus().length} cores shared by the SFU, ${workers} subscriber processes (receiving and decrypting costs them about as much per packet`,
    `  as forwarding costs the SFU) and Chromium${nice ? `; subscribers run at nice ${nice}, so when the machine is saturated they fall behind first` : ''}:`,
    '  when SFU CPU + subs CPU approach 100% × cores, the machine, not the SFU alone, is the limit.',
    "  threads (/proc) = the SFU process's threads from /proc/<pid>/task/*/stat: main thread, each subscriber worker thread (its subscribers,",
    '  the packets/s the main thread posts to it, and ≈ fwd/s per core of that thread = posted × subscribers ÷ its CPU), other threads',
    '  (V8 GC/compiler, libuv pool, …); busy = all of them (cores), fwd/s per busy core = fwd ÷ busy.',
  ].join('\n');
}
