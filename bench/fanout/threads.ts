// Per-thread CPU of the SFU process, from Linux's /proc/<pid>/task/<tid>/stat (utime + stime, in
// clock ticks) and .../comm (the thread's name). Node names its main thread "MainThread" and each
// worker thread after its `name` option: the SFU's subscriber workers are "media-worker-<slot>"
// (server/media/worker-link.ts); the rest are V8's platform threads (GC, compiler: "V8Worker"),
// libuv's pool ("libuv-worker") and Node's own helpers.
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSecondsOf } from '../stats.ts';
import { pct } from './table.ts';

export interface ThreadTimes {
  tid: number;
  name: string;
  /** utime + stime, seconds. */
  cpuSeconds: number;
}

/** Every thread of the process now (empty where there is no /proc, or the process is gone). */
export function readThreads(pid: number): ThreadTimes[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadTimes[] = [];
  for (const tid of tids) {
    try {
      const cpuSeconds = cpuSecondsOf(`/proc/${pid}/task/${tid}/stat`);
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.push({ tid: Number(tid), name: Number(tid) === pid ? 'main' : name, cpuSeconds });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

export interface ThreadShare {
  /** 'main', 'media-worker-<slot>', or another thread name (several threads of one name are summed). */
  name: string;
  threads: number;
  /** CPU time over the window / wall time (1 = one core). */
  cpu: number;
}

/**
 * CPU share per thread name over a window, busiest first but main and the media workers first of
 * all. A thread that started during the window counts from zero; one that ended is missing.
 */
export function threadShares(before: ThreadTimes[], after: ThreadTimes[], seconds: number): ThreadShare[] {
  const start = new Map(before.map((t) => [t.tid, t.cpuSeconds]));
  const byName = new Map<string, ThreadShare>();
  for (const thread of after) {
    const used = thread.cpuSeconds - (start.get(thread.tid) ?? 0);
    let share = byName.get(thread.name);
    if (!share) byName.set(thread.name, (share = { name: thread.name, threads: 0, cpu: 0 }));
    share.threads++;
    share.cpu += Math.max(0, used) / seconds;
  }
  const rank = (share: ThreadShare) => (share.name === 'main' ? 0 : share.name.startsWith('media-worker-') ? 1 : 2);
  return [...byName.values()].sort((a, b) => rank(a) - rank(b) || (rank(a) === 1 ? a.name.localeCompare(b.name) : b.cpu - a.cpu));
}

export interface WorkerRate {
  worker: number;
  subscribers: number;
  /** Packets the main thread posted to the worker per second. */
  relayedPps: number;
}

/**
 * One line per step: each thread's share of a core, the busy cores (all threads), and packets
 * forwarded per second per busy core; per media worker also its subscribers and an estimate of what
 * it forwarded (packets posted to it × its subscribers: every subscriber takes every track here).
 */
export function formatThreads(shares: ThreadShare[], fwdPps: number, workers: WorkerRate[]): string {
  const busy = shares.reduce((sum, share) => sum + share.cpu, 0);
  const parts: string[] = [];
  let others = 0;
  const otherNames: string[] = [];
  for (const share of shares) {
    const slot = /^media-worker-(\d+)$/.exec(share.name);
    if (share.name === 'main') parts.push(`main ${pct(share.cpu, 0)}`);
    else if (slot) {
      const rate = workers.find((w) => w.worker === Number(slot[1]));
      const fwd = rate ? rate.relayedPps * rate.subscribers : 0;
      const perCore = rate && share.cpu > 0.01 ? `, ≈${(fwd / share.cpu).toFixed(0)} fwd/s per core` : '';
      parts.push(`${share.name} ${pct(share.cpu, 0)}${rate ? ` (${rate.subscribers} subs, ${rate.relayedPps.toFixed(0)} pkt/s in${perCore})` : ''}`);
    } else {
      others += share.cpu;
      if (share.cpu >= 0.005) otherNames.push(`${share.name}${share.threads > 1 ? `×${share.threads}` : ''} ${pct(share.cpu, 0)}`);
    }
  }
  parts.push(`other ${pct(others, 0)}${otherNames.length ? ` (${otherNames.join(', ')})` : ''}`);
  const perBusyCore = busy > 0 ? (fwdPps / busy).toFixed(0) : '-';
  return `  threads (/proc): ${parts.join(' | ')}; busy ${busy.toFixed(2)} cores, ${fwdPps.toFixed(0)} fwd/s = ${perBusyCore} per busy core`;
}
