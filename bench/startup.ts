// Seconds from `node server/main.ts` to /readyz 200 on the embedded database: first start on an
// empty DATA_DIR (creates and migrates the database) and restarts on existing data.
// Usage: node bench/startup.ts [runs]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listeningUrl, startTool } from '../test/helpers/tool-process.ts';
import { formatMs, percentile } from './stats.ts';

const runs = Number(process.argv[2] ?? 5);

async function timeToReady(dataDir: string): Promise<number> {
  const started = performance.now();
  const tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  const url = await listeningUrl(tool);
  for (;;) {
    const response = await fetch(`${url}/readyz`).catch(() => undefined);
    if (response?.status === 200) break;
    await sleep(10);
  }
  const elapsed = performance.now() - started;
  const code = await tool.stop('SIGTERM');
  if (code !== 0) throw new Error(`the tool exited with ${code}`);
  return elapsed;
}

const first: number[] = [];
const restart: number[] = [];
for (let i = 0; i < runs; i++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'lc-bench-startup-'));
  try {
    first.push(await timeToReady(dataDir));
    restart.push(await timeToReady(dataDir));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
console.log(`start-up to /readyz 200, embedded database, ${runs} runs, Node ${process.version}`);
console.log(`  empty DATA_DIR:  p50 ${formatMs(percentile(first, 50))}  max ${formatMs(Math.max(...first))}`);
console.log(`  existing data:   p50 ${formatMs(percentile(restart, 50))}  max ${formatMs(Math.max(...restart))}`);
