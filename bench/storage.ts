// Latency of the writes a live class makes most (a chat message, an access decision) and of the
// history read on join, on PGlite and (when DATABASE_URL is set) on PostgreSQL.
// Usage: node bench/storage.ts [operations]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createRepositories, Database } from '../server/db/index.ts';
import { createTemporaryDatabase, serverUrl } from '../test/helpers/postgres.ts';
import { formatMs, percentile } from './stats.ts';

const operations = Number(process.argv[2] ?? 2000);

async function measure(name: string, db: Database): Promise<void> {
  const repos = createRepositories(db.orm);
  const course = await repos.courses.upsert({ issuer: 'https://bench.example.edu', deploymentId: '1', contextId: 'c' }, { title: 'Bench' });
  const room = await repos.rooms.ensure(course.id, { resourceLinkId: 'r', title: 'Bench room' });
  const user = await repos.users.upsert('https://bench.example.edu', 'u', { name: 'Bench User' });

  const time = async (label: string, count: number, op: (i: number) => Promise<unknown>) => {
    const samples: number[] = [];
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await op(i);
      samples.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  ${label.padEnd(28)} ${String(Math.round(count / seconds)).padStart(6)} ops/s  p50 ${formatMs(percentile(samples, 50))}  p99 ${formatMs(percentile(samples, 99))}`,
    );
  };

  console.log(`${name} (${operations} sequential operations each)`);
  await time('chat message append', operations, (i) => repos.chat.append(room.id, user.id, `message ${i}`));
  await time('access decision record', operations, () =>
    repos.accessDecisions.record({ roomId: room.id, userId: user.id, grant: 'attendee', reason: 'enrolled', source: 'launch' }),
  );
  await time('chat history (last 200)', Math.max(1, Math.floor(operations / 10)), () => repos.chat.history(room.id));
}

const dir = mkdtempSync(join(tmpdir(), 'lc-bench-storage-'));
try {
  const embedded = await Database.openEmbedded(dir);
  await measure('PGlite', embedded);
  await embedded.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (serverUrl) {
  const temporary = await createTemporaryDatabase(serverUrl);
  try {
    const server = await Database.connect(temporary.url, pino({ level: 'silent' }));
    await measure('PostgreSQL (local server)', server);
    await server.close();
  } finally {
    await temporary.drop();
  }
} else {
  console.log('PostgreSQL: skipped (DATABASE_URL is not set)');
}
