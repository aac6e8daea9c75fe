// How many subscribers one SFU process can serve: one publisher (Chromium, fake camera VP8 + fake
// microphone Opus) and N synthetic subscribers (werift LoadTestPeer, no decoding) in worker
// processes, the SFU (MediaServer) alone in its own process. For each N: the SFU's CPU, packets
// received and forwarded, loss seen by the subscribers; stops when the SFU saturates or loses.
// Usage: node bench/fanout.ts [--steps=25,50,100,150,200,250,300,350,400] [--workers=4] [--window=10]
//   [--settle=5] [--ramp=12] [--profile-at=100] [--budget=360] [--video=640x480@30]
//   [--start-kbps=1000] [--max-kbps=1500] [--nice=10 (subscriber processes' niceness; 0: same as the SFU)]
//   [--keep-profile (keep the SFU's .cpuprofile in the temp folder, for DevTools)]
//   [--media-workers=0 (the SFU's subscriber worker threads, MediaServerOptions.workers / MEDIA_WORKERS)]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, setPriority, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CHROMIUM } from '../test/helpers/browser.ts';
import { startChild, type Child } from './fanout/ipc.ts';
import { formatProfile, summariseProfile } from './fanout/profile.ts';
import { startPublisher, type Publisher, type PublisherStats } from './fanout/publisher.ts';
import type { SfuSnapshot } from './fanout/sfu.ts';
import type { AddResult, StreamCounts, WorkerSnapshot } from './fanout/subscribers.ts';
import { formatRow, HEADER, legend, pct, rowCells, type Row } from './fanout/table.ts';
import { formatThreads, readThreads, threadShares } from './fanout/threads.ts';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '25,50,100,150,200,250,300,350,400' },
    workers: { type: 'string', default: '4' },
    window: { type: 'string', default: '10' },
    settle: { type: 'string', default: '5' },
    ramp: { type: 'string', default: '12' },
    'profile-at': { type: 'string', default: '100' },
    'profile-seconds': { type: 'string', default: '6' },
    budget: { type: 'string', default: '360' },
    video: { type: 'string', default: '640x480@30' },
    'start-kbps': { type: 'string', default: '1000' },
    'max-kbps': { type: 'string', default: '1500' },
    nice: { type: 'string', default: '10' },
    'keep-profile': { type: 'boolean', default: false },
    'media-workers': { type: 'string', default: '0' },
  },
});
const STEPS = args.steps.split(',').map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const WORKERS = Number(args.workers);
const WINDOW_S = Number(args.window);
const SETTLE_S = Number(args.settle);
const RAMP_S = Number(args.ramp);
const PROFILE_AT = Number(args['profile-at']);
const PROFILE_S = Number(args['profile-seconds']);
const BUDGET_S = Number(args.budget);
const NICE = Number(args.nice);
const [, vw = '640', vh = '480', vfps = '30'] = /^(\d+)x(\d+)@(\d+)$/.exec(args.video) ?? [];
const MEDIA_WORKERS = Number(args['media-workers']);
/** The cores the SFU's threads can use: its CPU is judged against these (SFU CPU 100% = one core). */
const SFU_CORES = Math.min(cpus().length, 1 + MEDIA_WORKERS);
const CPU_LIMIT = 0.95;
const LOSS_LIMIT = 0.05;
const PUBLISHER = 'teacher';


const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
const log = (line: string) => console.log(line);
const children: Child[] = [];
let publisher: Publisher | undefined;
let cleaning: Promise<void> | undefined;

/** Closes Chromium, asks each child to close, then kills (by its own PID) any still running. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await publisher?.close().catch(() => {});
    await Promise.all(children.map((child) => child.channel.call('close', undefined, 10_000).catch(() => {})));
    await Promise.race([Promise.all(children.map((child) => child.exited)), sleep(5_000)]);
    for (const child of children) child.kill('SIGKILL');
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

function machine(): string {
  const cores = cpus();
  const werift = (JSON.parse(readFileSync(new URL('../node_modules/werift/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  let chromium = '?';
  try {
    chromium = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // version unknown; the run still works
  }
  return `machine: ${cores.length} cores (${cores[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, werift ${werift}, ${chromium}`;
}

async function waitForChromium() {
  for (let waited = 0; !existsSync(CHROMIUM); waited += 5) {
    if (waited >= 600) throw new Error(`${CHROMIUM} is not installed (waited 10 minutes)`);
    if (waited % 30 === 0) log(`waiting for ${CHROMIUM} (still being installed?)`);
    await sleep(5_000);
  }
}

async function startChildren() {
  const ready = (child: Child) =>
    new Promise<void>((resolve, reject) => {
      const previous = child.channel.handleEvent;
      child.channel.handleEvent = (name, data) => (name === 'ready' ? resolve() : previous(name, data));
      void child.exited.then((code) => reject(new Error(`child exited with ${code} before it was ready`)));
    });
  const sfu = startChild(new URL('./fanout/sfu.ts', import.meta.url), [], process.env, [String(MEDIA_WORKERS)]);
  children.push(sfu);
  const sfuReady = ready(sfu);
  const workers: Child[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const worker = startChild(new URL('./fanout/subscribers.ts', import.meta.url));
    children.push(worker);
    workers.push(worker);
  }
  await Promise.all([sfuReady, ...workers.map(ready)]);
  // Lower priority for the load generator, so the SFU gets CPU first (as if it had a host of its own).
  if (NICE !== 0) for (const worker of workers) setPriority(worker.process.pid!, NICE);
  return { sfu, workers };
}

function sumCounts(a: StreamCounts, b: StreamCounts): StreamCounts {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

/** Per-subscriber loss over a window, from two snapshots of each worker; connected subscribers only (failures show in "conn"). */
function subscriberLoss(before: WorkerSnapshot[], after: WorkerSnapshot[]) {
  const gapLoss: number[] = [];
  const residual: number[] = [];
  after.forEach((snap, i) => {
    for (const [userId, now] of Object.entries(snap.peers)) {
      const then = before[i]?.peers[userId];
      if (!then || !now.connected) continue;
      const n = sumCounts(now.audio, now.video);
      const t = sumCounts(then.audio, then.video);
      const expected = n[1] - t[1];
      if (expected <= 0) {
        gapLoss.push(1); // nothing arrived in the whole window
        residual.push(1);
        continue;
      }
      gapLoss.push((n[2] - t[2]) / expected);
      residual.push(Math.max(0, expected - (n[0] - t[0])) / expected);
    }
  });
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  return { lossMean: mean(gapLoss), lossMax: gapLoss.length ? Math.max(...gapLoss) : 0, residual: mean(residual) };
}

/** The SFU's CPU reached this share of its cores, or its main thread this share of one core. */
function cpuOver(row: Row, x: number): boolean {
  return row.sfuCpu >= x * SFU_CORES || row.mainCpu >= x;
}

/** What most likely limited a step: the SFU's own core, or the whole machine (load generator included). */
function limit(row: Row): string {
  if (cpuOver(row, 0.9)) return `the SFU's core (${pct(row.sfuCpu, 0)} busy, event loop p99 ${row.loopP99Ms.toFixed(0)} ms; all cores ${pct(row.hostBusy, 0)})`;
  if (row.subLoopP99Ms > 500 && row.loopP99Ms < 200) return `the subscriber processes (event loop p99 ${row.subLoopP99Ms.toFixed(0)} ms; SFU ${pct(row.sfuCpu, 0)} of a core, loop p99 ${row.loopP99Ms.toFixed(0)} ms)`;
  if (row.hostBusy >= 0.9) return `the machine (all cores ${pct(row.hostBusy, 0)} busy, SFU ${pct(row.sfuCpu, 0)} of a core, subscribers ${pct(row.subCpu, 0)}, SFU loop p99 ${row.loopP99Ms.toFixed(0)} ms)`;
  return `neither CPU figure (SFU ${pct(row.sfuCpu, 0)}, all cores ${pct(row.hostBusy, 0)}; SFU loop p99 ${row.loopP99Ms.toFixed(0)} ms)`;
}

/** Idle and total CPU time of the whole machine, ms (os.cpus()). */
function hostTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

async function measure(n: number, sfu: Child, workers: Child[]): Promise<Row> {
  const snap = () =>
    Promise.all([
      sfu.channel.call<SfuSnapshot>('snapshot'),
      Promise.all(workers.map((worker) => worker.channel.call<WorkerSnapshot>('snapshot'))),
      publisher!.stats(),
    ]);
  const pid = sfu.process.pid!;
  const [sfu0, workers0, pub0] = await snap();
  const host0 = hostTimes();
  const threads0 = readThreads(pid);
  const wall0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const threads1 = readThreads(pid);
  const wall1 = performance.now();
  const host1 = hostTimes();
  const [sfu1, workers1, pub1] = await snap();
  const seconds = (sfu1.at - sfu0.at) / 1000;
  const sfuCpu = (sfu1.cpuUser + sfu1.cpuSystem - sfu0.cpuUser - sfu0.cpuSystem) / 1e6 / seconds;
  const rxPps = (sfu1.stats.packetsReceived - sfu0.stats.packetsReceived) / seconds;
  const fwdPps = (sfu1.stats.packetsForwarded - sfu0.stats.packetsForwarded) / seconds;
  let subCpu = 0;
  workers1.forEach((w, i) => {
    const w0 = workers0[i]!;
    subCpu += (w.cpuUser + w.cpuSystem - w0.cpuUser - w0.cpuSystem) / 1e6 / ((w.at - w0.at) / 1000);
  });
  const pubSeconds = (pub1.at - pub0.at) / 1000;
  const sent = (p: PublisherStats) => (p.audio?.packetsSent ?? 0) + (p.video?.packetsSent ?? 0);
  const sentPps = (sent(pub1) - sent(pub0)) / pubSeconds;
  const videoBytes = (p: PublisherStats) => p.video?.bytesSent ?? 0;
  const rates = sfu1.workers.map((w) => {
    const then = sfu0.workers.find((w0) => w0.worker === w.worker && w0.threadId === w.threadId);
    const relayed = (x: typeof w) => x.packetsRelayed.audio + x.packetsRelayed.video;
    return { worker: w.worker, subscribers: w.subscribers, relayedPps: then ? (relayed(w) - relayed(then)) / seconds : 0 };
  });
  return {
    threads: formatThreads(threadShares(threads0, threads1, (wall1 - wall0) / 1000), fwdPps, rates),
    n,
    connected: workers1.reduce((sum, w) => sum + w.connected, 0),
    sfuCpu,
    mainCpu: (sfu1.mainUser + sfu1.mainSystem - sfu0.mainUser - sfu0.mainSystem) / 1e6 / seconds,
    rxPps,
    fwdPps,
    fwdPerCore: sfuCpu > 0 ? fwdPps / sfuCpu : 0,
    ...subscriberLoss(workers0, workers1),
    upstreamLoss: sentPps > 0 ? Math.max(0, 1 - rxPps / sentPps) : 0,
    subCpu,
    hostBusy: 1 - (host1.idle - host0.idle) / Math.max(1, host1.total - host0.total),
    loopP99Ms: sfu1.loopDelayP99Ms,
    subLoopP99Ms: Math.max(...workers1.map((w) => w.loopP99Ms)),
    pubKbps: ((videoBytes(pub1) - videoBytes(pub0)) * 8) / pubSeconds / 1000,
    pubRes: `${pub1.video?.frameWidth ?? 0}x${pub1.video?.frameHeight ?? 0}@${Math.round(pub1.video?.framesPerSecond ?? 0)}`,
  };
}

async function main() {
  await waitForChromium();
  log(machine());
  const idle0 = hostTimes();
  await sleep(2_000);
  const idle1 = hostTimes();
  const background = 1 - (idle1.idle - idle0.idle) / Math.max(1, idle1.total - idle0.total);
  log(`machine busy before the benchmark started anything: ${pct(background, 0)} of all cores (other processes${background > 0.1 ? ': figures below are disturbed' : ''})`);
  log(`SFU: MediaServer in its own process, ${MEDIA_WORKERS ? `${MEDIA_WORKERS} subscriber worker threads (MEDIA_WORKERS=${MEDIA_WORKERS})` : 'all on its main thread (MEDIA_WORKERS=0)'}; ${WORKERS} subscriber processes (werift LoadTestPeer, no decoding); publisher: Chromium fake camera ${args.video} VP8 + Opus`);
  log(`note: all on one ${cpus().length}-core machine: the subscriber processes${NICE ? ` (nice ${NICE}, so the SFU at nice 0 is served first)` : ''} and Chromium compete with the SFU for CPU, so figures are a lower bound for a dedicated SFU host.`);
  const { sfu, workers } = await startChildren();
  const owner = new Map<string, Child>();
  const failures: string[] = [];
  for (const worker of workers) {
    worker.channel.handleRequest = (op, data) => {
      if (op !== 'subscribe' && op !== 'answer') throw new Error(`workers may not ${op}`);
      return sfu.channel.call(op, data);
    };
    worker.channel.handleEvent = (name, data) => {
      if (name === 'failure') failures.push(`worker: ${JSON.stringify(data)}`);
    };
  }
  sfu.channel.handleEvent = (name, data) => {
    if (name === 'renegotiate') owner.get((data as { userId: string }).userId)?.channel.emit('renegotiate', data);
    else if (name === 'failure') failures.push(`sfu: ${JSON.stringify(data)}`);
  };

  publisher = await startPublisher({
    width: Number(vw),
    height: Number(vh),
    frameRate: Number(vfps),
    startKbps: Number(args['start-kbps']),
    maxKbps: Number(args['max-kbps']),
    publish: (sdp) => sfu.channel.call<string>('publish', { userId: PUBLISHER, sdp }),
  });
  log(`publisher connected at ${elapsedS().toFixed(0)} s; letting its bitrate ramp for ${RAMP_S} s`);
  await sleep(RAMP_S * 1000);

  const rows: Row[] = [];
  let stopReason = `reached N=${STEPS[STEPS.length - 1]}`;
  let profileText = '';
  let secondsPerPeer = 0.1;
  let current = 0;
  log('');
  log(formatRow(HEADER));
  for (const n of STEPS) {
    const adding = n - current;
    const estimate = adding * secondsPerPeer + SETTLE_S + WINDOW_S + (profileText ? 0 : PROFILE_S) + 10;
    if (elapsedS() + estimate > BUDGET_S) {
      stopReason = `time budget (${BUDGET_S} s) before N=${n}`;
      break;
    }
    const addStart = performance.now();
    const batches = workers.map(() => [] as string[]);
    for (let i = current; i < n; i++) {
      const userId = `sub-${String(i).padStart(4, '0')}`;
      const index = i % workers.length;
      batches[index]!.push(userId);
      owner.set(userId, workers[index]!);
    }
    const results = await Promise.all(workers.map((worker, i) => worker.channel.call<AddResult>('add', { userIds: batches[i], concurrency: 3 }, 300_000)));
    const addSeconds = (performance.now() - addStart) / 1000;
    secondsPerPeer = Math.max(0.02, addSeconds / Math.max(1, adding));
    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    if (failed > 0) log(`  ${failed} of ${adding} new subscribers failed to connect, e.g. ${results.flatMap((r) => r.errors)[0]}`);
    current = n;
    await sleep(SETTLE_S * 1000);
    const row = await measure(n, sfu, workers);
    rows.push(row);
    log(`${formatRow(rowCells(row))}   (+${adding} subscribers connected in ${addSeconds.toFixed(1)} s)`);
    log(row.threads);
    const saturated = cpuOver(row, CPU_LIMIT) || row.lossMean >= LOSS_LIMIT;
    if (!profileText && (n >= PROFILE_AT || saturated || n === STEPS[STEPS.length - 1])) {
      const file = join(tmpdir(), `lc-fanout-sfu-${process.pid}-n${n}.cpuprofile`);
      await sfu.channel.call('profile-start', { intervalUs: 500 });
      await sleep(PROFILE_S * 1000);
      await sfu.channel.call('profile-stop', { file });
      const kept = args['keep-profile'] ? `; kept in ${file}` : '';
      profileText = `SFU CPU profile at N=${n} (${PROFILE_S} s, in-process V8 sampling profiler${kept}):\n${formatProfile(summariseProfile(file))}`;
      if (!args['keep-profile']) rmSync(file, { force: true });
      log(`  (profiled the SFU for ${PROFILE_S} s at N=${n})`);
    }
    if (cpuOver(row, CPU_LIMIT)) {
      stopReason = `SFU CPU ${pct(row.sfuCpu, 0)} (main thread ${pct(row.mainCpu, 0)}) ≥ ${pct(CPU_LIMIT, 0)} of ${SFU_CORES === 1 ? 'one core' : `its ${SFU_CORES} cores, or its main thread ≥ ${pct(CPU_LIMIT, 0)}`} at N=${n}`;
      break;
    }
    if (row.lossMean >= LOSS_LIMIT) {
      stopReason = `mean subscriber loss ${pct(row.lossMean, 2)} ≥ ${pct(LOSS_LIMIT, 0)} at N=${n}; limited by ${limit(row)}`;
      break;
    }
  }

  log('');
  log(`=== fan-out results (${WINDOW_S} s windows after ${SETTLE_S} s settling; stopped: ${stopReason}; run ${elapsedS().toFixed(0)} s) ===`);
  log(machine());
  log(formatRow(HEADER));
  for (const row of rows) log(`${formatRow(rowCells(row))}\n${row.threads}`);
  // Loss is measured on connected subscribers only: a step where many failed to connect (or dropped) is not clean.
  const good = rows.filter((row) => row.sfuCpu < 0.8 * SFU_CORES && row.mainCpu < 0.8 && row.lossMean < 0.01 && row.connected >= 0.95 * row.n);
  const best = good[good.length - 1];
  log('');
  if (!best) log(`no step was below 80% SFU CPU (of ${SFU_CORES} core${SFU_CORES > 1 ? 's' : ''}) with under 1% loss`);
  else {
    const short = best.connected < best.n ? `; ${best.n - best.connected} of its subscribers failed to connect while they joined` : '';
    log(`largest N below 80% SFU CPU (of ${SFU_CORES} core${SFU_CORES > 1 ? 's' : ''}, main thread too) with under 1% loss and 95% connected: ${best.n} (CPU ${pct(best.sfuCpu, 0)}, main ${pct(best.mainCpu, 0)}, loss ${pct(best.lossMean, 2)}, ${best.fwdPps.toFixed(0)} packets/s forwarded${short})`);
  }
  log(legend(WORKERS, NICE));
  if (failures.length) log(`signaling failures (${failures.length}), first: ${failures.slice(0, 3).join(' | ')}`);
  if (profileText) log(`\n${profileText}`);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
