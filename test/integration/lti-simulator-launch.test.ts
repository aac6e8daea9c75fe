// Launches from the platform simulator (Moodle-shaped and Canvas-shaped claims) reach the class page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../../server/service.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import type { Platform } from '../helpers/platform/index.ts';

for (const flavor of ['moodle', 'canvas'] as const) {
  describe(`a ${flavor}-shaped launch`, () => {
    let classroom: Classroom;
    let service: Service;
    let platform: Platform;
    before(async () => {
      classroom = await startClassroom(flavor);
      ({ service, platform } = classroom);
    });
    after(() => classroom?.close());

    it('gives an instructor the host seat and a learner the attendee seat of one room', async () => {
      const seatOf = async (roles: 'instructor' | 'learner', id: string) => {
        const result = await platform.launch({ roles, user: { id, name: `User ${id}` } });
        assert.equal(result.stage, 'launched', JSON.stringify(result.stage === 'launched' ? {} : { stage: result.stage }));
        if (result.stage !== 'launched') throw new Error('not launched');
        assert.equal(result.response.status, 200, result.response.body);
        return service.seats.verify(/seat-token="([^"]+)"/.exec(result.response.body)![1]!);
      };
      const host = await seatOf('instructor', 'teacher-1');
      const attendee = await seatOf('learner', 'student-1');
      assert.equal(host.role, 'host');
      assert.equal(attendee.role, 'attendee');
      assert.equal(attendee.roomId, host.roomId);
      assert.equal(attendee.name, 'User student-1');
    });
  });
}
