// Summarises a V8 .cpuprofile (from the SFU process): top self-time functions, inclusive time of
// the functions that make up the forwarding path, and self time by area (werift part, Node, GC).
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  /** Of busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  durationMs: number;
  busyMs: number;
  self: Row[];
  inclusive: Row[];
  areas: Row[];
}

/** Idle, and the profiler's own Profiler.stop call (it serialises the profile inside Session.post). */
function notBusy(frame: CallFrame): boolean {
  return frame.functionName === '(idle)' || frame.url.startsWith('node:inspector');
}

function shortUrl(url: string): string {
  if (!url) return '';
  const werift = url.indexOf('/node_modules/werift/lib/');
  if (werift >= 0) return `werift/${url.slice(werift + '/node_modules/werift/lib/'.length)}`;
  const nodeModules = url.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) return url.slice(nodeModules + '/node_modules/'.length);
  const repo = url.indexOf('/server/media/');
  if (repo >= 0) return url.slice(repo + 1);
  return url.replace(/^file:\/\//, '');
}

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  const where = shortUrl(frame.url);
  return where ? `${name}  ${where}:${frame.lineNumber + 1}` : name;
}

/** A coarse area for a frame, to see where time goes at a glance. */
function area(frame: CallFrame): string {
  const url = frame.url;
  const name = frame.functionName;
  if (!url) {
    if (name.startsWith('(')) return name; // (garbage collector), (program)
    return `native: ${name || '(anonymous)'}`; // e.g. createCipheriv's C++ side, Buffer ops
  }
  if (url.includes('/node_modules/werift/')) return 'werift JS';
  if (url.includes('/server/media/')) return 'server/media';
  if (url.startsWith('node:')) {
    if (/crypto|cipher/.test(url)) return 'node crypto';
    if (/dgram|udp/.test(url)) return 'node dgram (UDP send/recv)';
    if (/buffer/.test(url)) return 'node buffer';
    if (/timers|task_queues|promises|process\/|async_hooks/.test(url)) return 'node timers/promises/microtasks';
    return 'node (other)';
  }
  if (url.includes('/node_modules/')) return `deps: ${shortUrl(url).split('/')[0]}`;
  return 'other JS';
}

function top(map: Map<string, number>, busyMs: number, count: number): Row[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

/** Functions whose inclusive time tells the forwarding story (matched on the function name). */
const PATH = /^(forward|sendRtp|dispatchRtp|encrypt|encryptRtp|clone|send|runRtcp|rtpPacketSent|ntpTime|decrypt|decryptRtp|handleRtpBySsrc|handleRtpByMid|handleRtp|onRtp|deSerialize|serialize|createCipheriv|update|final|getAuthTag|concat|Session\.encrypt|emit|execute|nackHandler|addPacket)$/;

export function summariseProfile(file: string, count = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  let busyUs = 0;
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (notBusy(frame)) continue;
    busyUs += us;
    const key = label(frame);
    self.set(key, (self.get(key) ?? 0) + us / 1000);
    const bucket = area(frame);
    areas.set(bucket, (areas.get(bucket) ?? 0) + us / 1000);
  }
  // Inclusive time per function label, counted once per stack even under recursion.
  const inclusive = new Map<string, number>();
  const onStack = new Map<string, number>();
  const walk = (id: number): number => {
    const node = byId.get(id)!;
    const key = label(node.callFrame);
    const depth = onStack.get(key) ?? 0;
    onStack.set(key, depth + 1);
    let total = notBusy(node.callFrame) ? 0 : (selfUs.get(id) ?? 0);
    for (const child of node.children ?? []) total += walk(child);
    onStack.set(key, depth);
    if (depth === 0 && PATH.test(node.callFrame.functionName)) inclusive.set(key, (inclusive.get(key) ?? 0) + total / 1000);
    return total;
  };
  const root = profile.nodes[0];
  if (root) walk(root.id);
  const busyMs = busyUs / 1000;
  return { durationMs, busyMs, self: top(self, busyMs, count), inclusive: top(inclusive, busyMs, count), areas: top(areas, busyMs, 12) };
}

export function formatProfile(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `  sampled ${(summary.durationMs / 1000).toFixed(1)} s, busy ${(summary.busyMs / 1000).toFixed(1)} s (${pct(summary.busyMs / summary.durationMs).trim()} of one core); shares below are of busy time`,
    '  top self time:',
    ...summary.self.map((row) => `    ${pct(row.share)}  ${row.ms.toFixed(0).padStart(6)} ms  ${row.name}`),
    '  by area (self time):',
    ...summary.areas.map((row) => `    ${pct(row.share)}  ${row.ms.toFixed(0).padStart(6)} ms  ${row.name}`),
    '  forwarding path, inclusive time (callee time included):',
    ...summary.inclusive.map((row) => `    ${pct(row.share)}  ${row.ms.toFixed(0).padStart(6)} ms  ${row.name}`),
  ];
  return lines.join('\n');
}
