// The same storage suite on the embedded PGlite and, when DATABASE_URL is set, on PostgreSQL.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { createRepositories, Database, type Repositories } from '../../server/db/index.ts';
import { questions, questionVotes } from '../../server/db/schema.ts';
import { silentLogger as silent, storageBackends } from '../helpers/backends.ts';
import { createTemporaryDatabase, serverUrl } from '../helpers/postgres.ts';

const journal = JSON.parse(readFileSync(new URL('../../server/db/migrations/meta/_journal.json', import.meta.url), 'utf8')) as {
  entries: unknown[];
};

/** A course with a room and two people in it, with keys no other test uses. */
async function seed(repos: Repositories) {
  const issuer = `https://lms-${randomUUID()}.example.edu`;
  const course = await repos.courses.upsert({ issuer, deploymentId: 'd1', contextId: 'c1' }, { title: 'Physics 101' });
  const room = await repos.rooms.ensure(course.id, { resourceLinkId: 'rl1', title: 'Week 1 lecture' });
  const teacher = await repos.users.upsert(issuer, 'teacher', { name: 'Ada Teacher' });
  const student = await repos.users.upsert(issuer, 'student', { name: 'Sam Student', email: 'sam@example.edu', locale: 'zh-CN' });
  return { issuer, course, room, teacher, student };
}

for (const backend of storageBackends()) {
  describe(`storage on ${backend.name}`, () => {
    let db: Database;
    let repos: Repositories;

    before(async () => {
      db = await backend.open();
      repos = createRepositories(db.orm);
    });
    after(async () => {
      await db?.close();
      await backend.cleanup();
    });

    it('applies every migration once, and opening again applies none', async () => {
      const count = async () => {
        const [row] = await db.rows<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
        return row?.n;
      };
      assert.equal(await count(), journal.entries.length);
      await db.close();
      db = await backend.open();
      repos = createRepositories(db.orm);
      assert.equal(await count(), journal.entries.length);
      const tables = await db.rows<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      assert.deepEqual(
        tables.map((r) => r.table_name),
        ['access_decisions', 'attendance', 'chat_messages', 'chat_mutes', 'class_sessions', 'courses', 'hands', 'lti_store', 'memberships', 'poll_votes', 'polls', 'question_votes', 'questions', 'recordings', 'rooms', 'stage', 'users'],
      );
    });

    it('creates a course on first launch and keeps its title current', async () => {
      const { issuer, course } = await seed(repos);
      const again = await repos.courses.upsert({ issuer, deploymentId: 'd1', contextId: 'c1' }, { title: 'Physics 101 (2027)', label: 'PHY101' });
      assert.equal(again.id, course.id);
      assert.equal(again.title, 'Physics 101 (2027)');
      assert.equal(again.label, 'PHY101');
      assert.ok(again.updatedAt >= course.updatedAt);
      const otherDeployment = await repos.courses.upsert({ issuer, deploymentId: 'd2', contextId: 'c1' }, { title: 'Physics 101' });
      assert.notEqual(otherDeployment.id, course.id);
      assert.equal((await repos.courses.find({ issuer, deploymentId: 'd1', contextId: 'c1' }))?.id, course.id);
    });

    it('finds the same room for the same resource link, and keeps settings the instructor changed', async () => {
      const { course, room } = await seed(repos);
      assert.equal(room.policy, 'enrolled');
      assert.equal(room.status, 'scheduled');
      await repos.rooms.update(room.id, { policy: 'paid', paidThreshold: 1, title: 'Week 1: vectors' });
      const relaunched = await repos.rooms.ensure(course.id, { resourceLinkId: 'rl1', title: 'Week 1 lecture' });
      assert.equal(relaunched.id, room.id);
      assert.equal(relaunched.title, 'Week 1: vectors');
      assert.equal(relaunched.policy, 'paid');
      const second = await repos.rooms.ensure(course.id, { resourceLinkId: 'rl2', title: 'Week 2' }, { durationMinutes: 90 });
      assert.equal(second.durationMinutes, 90);
      assert.deepEqual((await repos.rooms.listForCourse(course.id)).map((r) => r.id), [room.id, second.id]);
    });

    it('refuses a paid threshold outside (0, 1]', async () => {
      const { room } = await seed(repos);
      const violatesRange = (error: Error) => /rooms_paid_threshold_range/.test(String((error.cause as Error | undefined)?.message));
      await assert.rejects(repos.rooms.update(room.id, { paidThreshold: 1.5 }), violatesRange);
      await assert.rejects(repos.rooms.update(room.id, { paidThreshold: 0 }), violatesRange);
      assert.equal((await repos.rooms.get(room.id))?.paidThreshold, null);
    });

    it('keeps one membership per person and course, with the latest status', async () => {
      const { course, student } = await seed(repos);
      await repos.memberships.set(course.id, student.id, { roles: ['Learner'], status: 'active', source: 'launch' });
      await repos.memberships.set(course.id, student.id, { roles: ['Learner'], status: 'inactive', source: 'nrps' });
      const membership = await repos.memberships.get(course.id, student.id);
      assert.equal(membership?.status, 'inactive');
      assert.equal(membership?.source, 'nrps');
      assert.deepEqual(membership?.roles, ['Learner']);
    });

    it('updates a returning user instead of duplicating them', async () => {
      const { issuer, student } = await seed(repos);
      const again = await repos.users.upsert(issuer, 'student', { name: 'Samantha Student' });
      assert.equal(again.id, student.id);
      assert.equal(again.name, 'Samantha Student');
      assert.equal(again.email, null);
    });

    it('lists who was refused and why, per room and per course, newest first', async () => {
      const { course, room, teacher, student } = await seed(repos);
      const other = await repos.rooms.ensure(course.id, { resourceLinkId: 'rl-other', title: 'Office hours' });
      await repos.accessDecisions.record({ roomId: room.id, userId: teacher.id, grant: 'host', reason: 'instructor', source: 'launch' });
      await repos.accessDecisions.record({ roomId: room.id, userId: student.id, grant: 'denied', reason: 'course fee not paid', source: 'ags' });
      await repos.accessDecisions.record({ roomId: other.id, userId: student.id, grant: 'denied', reason: 'enrollment inactive', source: 'nrps' });
      const inRoom = await repos.accessDecisions.listRefusals({ roomId: room.id });
      assert.deepEqual(inRoom.map((r) => [r.name, r.reason, r.source]), [['Sam Student', 'course fee not paid', 'ags']]);
      const inCourse = await repos.accessDecisions.listRefusals({ courseId: course.id });
      assert.deepEqual(inCourse.map((r) => [r.roomTitle, r.reason]), [
        ['Office hours', 'enrollment inactive'],
        ['Week 1 lecture', 'course fee not paid'],
      ]);
    });

    it('returns the last 200 chat messages in order, what came after a reconnect, and hides deleted ones', async () => {
      const { room, teacher, student } = await seed(repos);
      const sent = [];
      for (let i = 0; i < 205; i++) sent.push(await repos.chat.append(room.id, student.id, `message ${i}`));
      const history = await repos.chat.history(room.id);
      assert.equal(history.length, 200);
      assert.equal(history[0]!.body, 'message 5');
      assert.equal(history.at(-1)!.body, 'message 204');
      const missed = await repos.chat.history(room.id, { afterId: sent[202]!.id });
      assert.deepEqual(missed.map((m) => m.body), ['message 203', 'message 204']);
      assert.equal(await repos.chat.delete(room.id, sent[204]!.id, teacher.id), true);
      assert.equal(await repos.chat.delete(room.id, sent[204]!.id, teacher.id), false, 'already deleted');
      assert.equal((await repos.chat.history(room.id)).at(-1)!.body, 'message 203');
      const { room: elsewhere } = await seed(repos);
      assert.equal(await repos.chat.delete(elsewhere.id, sent[203]!.id, teacher.id), false, 'a message of another room');
    });

    it('counts one upvote per person and question', async () => {
      const { room, student, teacher } = await seed(repos);
      const [question] = await db.orm.insert(questions).values({ roomId: room.id, userId: student.id, body: 'Is light a wave?' }).returning();
      await db.orm.insert(questionVotes).values({ questionId: question!.id, userId: teacher.id });
      await assert.rejects(db.orm.insert(questionVotes).values({ questionId: question!.id, userId: teacher.id }));
    });

    it('tracks a recording from start to finish and finds unfinished ones after a crash', async () => {
      const { course, room } = await seed(repos);
      const recording = await repos.recordings.start(room.id, 'Week 1 lecture', `${room.id}/${randomUUID()}`);
      assert.equal(recording.status, 'recording');
      assert.ok((await repos.recordings.listUnfinished()).some((r) => r.id === recording.id));
      const done = await repos.recordings.finish(recording.id, { status: 'interrupted', durationMs: 61_000, sizeBytes: 1_234_567 });
      assert.equal(done?.status, 'interrupted');
      assert.equal(done?.sizeBytes, 1_234_567);
      assert.ok(done?.endedAt instanceof Date);
      assert.ok(!(await repos.recordings.listUnfinished()).some((r) => r.id === recording.id));
      assert.deepEqual((await repos.recordings.listForCourse(course.id)).map((r) => r.id), [recording.id]);
    });

    it('removes a course with its rooms, decisions, chat and recordings', async () => {
      const { course, room, student } = await seed(repos);
      await repos.accessDecisions.record({ roomId: room.id, userId: student.id, grant: 'attendee', reason: 'enrolled', source: 'launch' });
      await repos.chat.append(room.id, student.id, 'hello');
      await repos.recordings.start(room.id, 'Week 1', `${room.id}/cascade`);
      await repos.courses.delete(course.id);
      assert.equal(await repos.rooms.get(room.id), undefined);
      assert.deepEqual(await repos.chat.history(room.id), []);
      assert.deepEqual(await repos.recordings.listForCourse(course.id), []);
      assert.ok((await repos.users.get(student.id)) !== undefined, 'people outlive a course');
    });
  });
}

describe('embedded database on disk', () => {
  it('keeps its data after closing and opening again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-persist-'));
    try {
      let db = await Database.openEmbedded(dir);
      const course = await createRepositories(db.orm).courses.upsert(
        { issuer: 'https://moodle.example.edu', deploymentId: '1', contextId: '42' },
        { title: 'Kept course' },
      );
      await db.close();
      db = await Database.openEmbedded(dir);
      const found = await createRepositories(db.orm).courses.find({ issuer: 'https://moodle.example.edu', deploymentId: '1', contextId: '42' });
      await db.close();
      assert.equal(found?.id, course.id);
      assert.equal(found?.title, 'Kept course');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL server', { skip: serverUrl ? false : 'DATABASE_URL is not set' }, () => {
  it('lets two nodes starting at once on an empty database migrate it without conflict', async () => {
    const temporary = await createTemporaryDatabase(serverUrl!);
    try {
      const nodes = await Promise.all([Database.connect(temporary.url, silent), Database.connect(temporary.url, silent)]);
      const [row] = await nodes[0].rows<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      assert.equal(row?.n, journal.entries.length);
      await Promise.all(nodes.map((n) => n.close()));
    } finally {
      await temporary.drop();
    }
  });

  it('reports an unreachable server by its setting name without the password', async () => {
    await assert.rejects(Database.connect('postgres://lc:hunter2@127.0.0.1:1/lc', silent), (error: Error) => {
      assert.match(error.message, /^The database \(DATABASE_URL postgres:\/\/lc:\*\*\*@127\.0\.0\.1:1\/lc\) cannot be reached: .*ECONNREFUSED/);
      assert.ok(!error.message.includes('hunter2'));
      return true;
    });
  });
});
