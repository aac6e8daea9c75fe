// Launches from the platform simulator (Moodle-shaped and Canvas-shaped claims) reach the class page.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger.ts';
import { Service } from '../../server/service.ts';
import { Platform } from '../helpers/platform/index.ts';

for (const flavor of ['moodle', 'canvas'] as const) {
  describe(`a ${flavor}-shaped launch`, () => {
    let dataDir: string;
    let service: Service;
    let platform: Platform;
    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), `lc-${flavor}-`));
      service = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
      platform = await Platform.start({ flavor });
      const registration = platform.registration();
      await service.lti.platforms.add(registration, registration.deploymentIds);
      platform.useTool({ loginUrl: `${service.url}/lti/login`, launchUrl: `${service.url}/lti/launch`, jwksUrl: `${service.url}/lti/keys` });
    });
    after(async () => {
      await platform?.close();
      await service?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('gives an instructor the host seat and a learner the attendee seat of one room', async () => {
      const seatOf = async (roles: 'instructor' | 'learner', id: string) => {
        const result = await platform.launch({ roles, user: { id, name: `User ${id}` } });
        assert.equal(result.stage, 'launched', JSON.stringify(result.stage === 'launched' ? {} : { stage: result.stage }));
        if (result.stage !== 'launched') throw new Error('not launched');
        assert.equal(result.response.status, 200, result.response.body);
        return service.lti.seats.verify(/seat-token="([^"]+)"/.exec(result.response.body)![1]!);
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
