// The runtime (server/runtime.ts) is built in one step and closed once: a step that fails closes
// what was built before it (nothing is left running: no timer, socket or worker), and closing a
// running one twice closes each part once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSettings, type Settings } from '../../config/index.ts';
import { Database } from '../../server/db/index.ts';
import { Runtime } from '../../server/runtime.ts';
import { captureLogs, LEVEL } from '../helpers/logs.ts';
import { until } from '../helpers/wait.ts';

/** What the process holds open, by kind (timers, sockets, worker threads...). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('the runtime', () => {
  let dataDir: string;
  let database: Database;
  let httpServer: Server;
  let settings: Settings;
  const metrics = { accessDecision: () => {}, launch: () => {}, mediaWorkerExit: () => {} };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-runtime-'));
    settings = parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MEDIA_WORKERS: '1' });
    database = await Database.openEmbedded(dataDir);
    httpServer = createServer();
  });
  after(async () => {
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('closes what it built when a later step fails, and passes the failure on', async () => {
    const logs = captureLogs();
    // Warm up what loads once per process (modules, ltijs's first setup) so that only what a runtime holds is compared.
    const warm = await Runtime.create({ database, settings, logger: logs.logger, httpServer, metrics, adminToken: undefined });
    await warm.close();
    // Its worker threads and any mediasoup worker process are gone before the baseline is read.
    await until('the warm-up runtime let go of everything', () => (resources().Worker ?? 0) === 0 && (resources().ProcessWrap ?? 0) === 0);
    const before = resources();
    // The sockets' step fails (a Redis address it cannot use), after the LTI side, the SFU with its
    // worker thread and the recorder were built.
    const broken = { ...settings, redisUrl: 'http://127.0.0.1:1' };
    await assert.rejects(Runtime.create({ database, settings: broken, logger: logs.logger, httpServer, metrics, adminToken: undefined }), /not a valid Redis protocol/);
    await until('nothing left running', () => JSON.stringify(resources()) === JSON.stringify(before), 5_000).catch(() => {
      assert.deepEqual(resources(), before, 'what the process holds after the failed start');
    });
    assert.deepEqual(logs.atLeast(LEVEL.warn), [], 'each part closed without a failure');
  });

  it('closes each part once however often it is closed', async () => {
    const logs = captureLogs();
    const runtime = await Runtime.create({ database, settings, logger: logs.logger, httpServer, metrics, adminToken: undefined });
    let closes = 0;
    const close = runtime.media.close.bind(runtime.media);
    runtime.media.close = () => {
      closes += 1;
      return close();
    };
    await Promise.all([runtime.close(), runtime.close()]);
    await runtime.close();
    assert.equal(closes, 1);
    assert.deepEqual(logs.atLeast(LEVEL.warn), []);
    // A closed runtime's recorder refuses new work in words.
    await assert.rejects(runtime.recordings.start('any-room', { audio: [] }), /stopping|closing|shutting/i);
  });
});

