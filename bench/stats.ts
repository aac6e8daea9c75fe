import { readFileSync } from 'node:fs';

/** Percentile of already-collected samples (nearest rank). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/**
 * user + system CPU seconds of a process or thread, from Linux's /proc: `/proc/<pid>/stat` or
 * `/proc/<pid>/task/<tid>/stat`. The name field may hold spaces and parentheses, so fields are
 * counted after the last ")"; times are in USER_HZ ticks, 1/100 s on every common configuration.
 */
export function cpuSecondsOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // fields 14 (utime) and 15 (stime) of proc(5)
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}
