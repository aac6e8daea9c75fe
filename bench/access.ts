// What the access rules cost: a paid room with N enrolled students who paid, on the embedded
// database, with the platform simulator as the LMS (NRPS and AGS over loopback HTTP).
//   - a join decision with the LMS facts cached (what most joins cost),
//   - a join decision that must read the LMS again (cache expired),
//   - one re-check of the whole room (one membership read and one results read for everyone),
//     which runs every ACCESS_RECHECK_SECONDS while the class is live.
// Usage: node bench/access.ts [students (300)] [re-check rounds (5)]
import { cpus } from 'node:os';
import { PAID_LINE_ITEM_TAG } from '../server/access/index.ts';
import { launchAs, startClassroom } from '../test/helpers/classroom.ts';
import { formatMs, percentile } from './stats.ts';

const students = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 5);

const c = await startClassroom('moodle', { env: { ACCESS_CACHE_SECONDS: '300' } });
try {
  const context = { id: 'bench-course', title: 'Bench 101' };
  const resourceLink = { id: 'bench-room', title: 'Bench lecture' };
  const custom = { live_classroom_policy: 'paid' };
  const teacher = await launchAs(c.platform, { user: { id: 'teacher' }, roles: 'instructor', context, resourceLink, custom });
  const roomId = c.service.seats.verify(teacher.seat!).roomId;
  let item = c.platform.lineItems(context.id).find((i) => i.tag === PAID_LINE_ITEM_TAG);
  for (let i = 0; i < 100 && !item; i++) {
    await new Promise((r) => setTimeout(r, 20));
    item = c.platform.lineItems(context.id).find((i) => i.tag === PAID_LINE_ITEM_TAG);
  }
  if (!item) throw new Error('no fee line item');
  const userIds: string[] = [];
  const started = performance.now();
  for (let i = 0; i < students; i++) {
    c.platform.setResult(item.id, `s${i}`, 1);
    const s = await launchAs(c.platform, { user: { id: `s${i}` }, roles: 'learner', context, resourceLink, custom });
    if (s.status !== 200) throw new Error(`student ${i} refused`);
    userIds.push(c.service.seats.verify(s.seat!).userId);
  }
  const setupS = (performance.now() - started) / 1000;

  const access = c.service.access;
  const cached: number[] = [];
  for (const id of userIds) {
    const t = performance.now();
    await access.decide(id, roomId, 'join');
    cached.push(performance.now() - t);
  }
  const uncached: number[] = [];
  for (const id of userIds.slice(0, 50)) {
    access.forget();
    const t = performance.now();
    await access.decide(id, roomId, 'join');
    uncached.push(performance.now() - t);
  }
  const nrpsBefore = c.platform.nrpsRequests;
  const recheck: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const decisions = await access.recheck(roomId, userIds);
    recheck.push(performance.now() - t);
    if ([...decisions.values()].some((d) => d.grant !== 'attendee')) throw new Error('a paid student was refused');
  }
  console.log(`Access decisions, paid room, ${students} students who paid, embedded PGlite, LMS simulator on loopback, Node ${process.version}, ${cpus().length} CPUs`);
  console.log(`  (set-up: ${students} launches in ${setupS.toFixed(1)} s)`);
  console.log(`  join, LMS facts cached     p50 ${formatMs(percentile(cached, 50))}  p99 ${formatMs(percentile(cached, 99))}  (${cached.length} decisions)`);
  console.log(`  join, LMS read again       p50 ${formatMs(percentile(uncached, 50))}  p99 ${formatMs(percentile(uncached, 99))}  (${uncached.length} decisions; NRPS list + AGS result)`);
  console.log(`  re-check of the whole room p50 ${formatMs(percentile(recheck, 50))}  max ${formatMs(Math.max(...recheck))}  (${rounds} rounds; ${(c.platform.nrpsRequests - nrpsBefore) / rounds} NRPS requests per round)`);
  console.log(`  = ${formatMs(percentile(recheck, 50) / students)} per student per re-check`);
} finally {
  await c.close();
}
