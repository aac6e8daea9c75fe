// Two nodes sharing PostgreSQL and Redis (this machine's, from DATABASE_URL and REDIS_URL): node A
// in this process, node B a real `node server/main.ts`. What a participant who reaches the wrong node pays to be sent to the
// room's node (socket connect to welcome, direct and redirected), and what SIGTERM costs a node
// that holds a class with students and a recording (signal to exit, and until the students are
// back in through the other node).
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 npm run bench:cluster
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { parseSettings } from '../config/index.ts';
import { createLogger } from '../server/logger/index.ts';
import { Service } from '../server/service.ts';
import { connect, introduce, launchAs } from '../test/helpers/classroom.ts';
import { Platform } from '../test/helpers/platform/index.ts';
import { freePort } from '../test/helpers/ports.ts';
import { createTemporaryDatabase, serverUrl } from '../test/helpers/postgres.ts';
import { startTool } from '../test/helpers/tool-process.ts';
import { formatMs, percentile } from './stats.ts';

const redisUrl = process.env.REDIS_URL;
if (!serverUrl || !redisUrl) {
  process.stderr.write('bench:cluster needs DATABASE_URL and REDIS_URL (this machine\'s PostgreSQL and Redis)\n');
  process.exit(2);
}
const STUDENTS = 30;


const database = await createTemporaryDatabase(serverUrl);
const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'lc-bench-cluster-'));
  dirs.push(d);
  return d;
};
const [portA, portB] = [await freePort(), await freePort()];
const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
const shared = { DATABASE_URL: database.url, REDIS_URL: redisUrl, LTI_KEY: randomBytes(24).toString('hex'), PUBLIC_URL: urlA, LOG_LEVEL: 'info' };
const settingsA = parseSettings({ ...shared, LOG_LEVEL: 'silent', HOST: '127.0.0.1', DATA_DIR: dir(), PORT: String(portA), NODE_ID: `bench-a-${portA}`, NODE_URL: urlA });
const a = await Service.start(settingsA, createLogger(settingsA.logLevel));
const b = startTool({ ...shared, DATA_DIR: dir(), PORT: String(portB), NODE_ID: `bench-b-${portB}`, NODE_URL: urlB });
const sockets: Socket[] = [];
try {
  await a.whenDatabaseReady();
  await b.waitForLog((l) => String(l.msg).startsWith('database ready'));
  const platform = await Platform.start({ flavor: 'moodle' });
  await introduce(a, platform);
  const seat = async (user: string, roles: 'instructor' | 'learner', link: string) =>
    (await launchAs(platform, { user: { id: `${link}-${user}`, name: user }, roles, resourceLink: { id: link } })).seat as string;

  // Room "b": its host reached node B first. Students connect once to B (direct) and once to A (sent to B).
  const host = await connect({ url: urlB }, await seat('host', 'instructor', 'room-b'));
  sockets.push(host.socket);
  const direct: number[] = [];
  const redirected: number[] = [];
  const seats: string[] = [];
  for (let i = 0; i < STUDENTS; i++) seats.push(await seat(`s${i}`, 'learner', 'room-b'));
  for (const [i, s] of seats.entries()) {
    for (const [url, into] of [[urlB, direct], [urlA, redirected]] as const) {
      const started = performance.now();
      const admission = await connect({ url }, s, `bench-${i}-${into === direct ? 'd' : 'r'}-xxxx`);
      if (admission.kind !== 'welcome') throw new Error(`student ${i} not admitted: ${JSON.stringify(admission.kind)}`);
      into.push(performance.now() - started);
      admission.socket.close();
    }
  }

  // A class on B with everyone in and a recording; then SIGTERM to B.
  const students: Socket[] = [];
  for (const s of seats) {
    const admission = await connect({ url: urlA }, s);
    students.push(admission.socket);
    sockets.push(admission.socket);
  }
  await host.socket.timeout(5_000).emitWithAck('class:start', {});
  const recording = (await host.socket.timeout(15_000).emitWithAck('recording:start', {})) as { ok: boolean };
  if (!recording.ok) throw new Error(`recording did not start: ${JSON.stringify(recording)}`);
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  const told = students.map((s) => new Promise<number>((resolve) => s.once('server:draining', () => resolve(performance.now()))));
  const signalled = performance.now();
  const code = await b.stop('SIGTERM');
  const exited = performance.now();
  const toldAt = await Promise.all(told);
  // Each student comes back through the public address (node A), as the widget does.
  const back: number[] = [];
  await Promise.all(seats.map(async (s, i) => {
    const admission = await connect({ url: urlA }, s);
    sockets.push(admission.socket);
    if (admission.kind !== 'welcome' || admission.redirects.length > 0) throw new Error(`student ${i} not taken over by node A`);
    back.push(performance.now() - signalled);
  }));
  const closed = b.logs.find((l) => /recording (stopped|ready|closed)/i.test(String(l.msg)));

  console.log(`two nodes (A in this process, B a child process), PostgreSQL and Redis on this machine, ${STUDENTS} students, 2 cores`);
  console.log(`socket connect -> welcome, direct to the room's node:  median ${formatMs(percentile(direct, 50))}, p95 ${formatMs(percentile(direct, 95))}`);
  console.log(`socket connect -> welcome, sent there by the other node: median ${formatMs(percentile(redirected, 50))}, p95 ${formatMs(percentile(redirected, 95))}`);
  console.log(`redirect cost (median): ${formatMs(percentile(redirected, 50) - percentile(direct, 50))}`);
  console.log(`SIGTERM -> students told to reconnect: max ${formatMs(Math.max(...toldAt) - signalled)}`);
  console.log(`SIGTERM -> node B exited (code ${code}, recording closed first${closed ? '' : '?'}): ${formatMs(exited - signalled)}`);
  console.log(`SIGTERM -> all ${STUDENTS} students admitted on node A (reconnecting at once, no widget delay): ${formatMs(Math.max(...back))}`);
  await platform.close();
} finally {
  for (const s of sockets) s.close();
  await b.stop();
  await a.stop();
  await database.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
