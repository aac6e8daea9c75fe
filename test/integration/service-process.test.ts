// The tool as an operator runs it: a real `node server/main.ts` process, signals and exit codes.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRepositories, Database } from '../../server/db/index.ts';
import { serverUrl } from '../helpers/postgres.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';

async function status(url: string): Promise<{ code: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { code: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const courseKey = { issuer: 'https://moodle.example.edu', deploymentId: '1', contextId: 'kept' };

describe('the tool process', () => {
  let dataDir: string;
  const running: ToolProcess[] = [];
  const start = (settings: Record<string, string> = {}) => {
    const tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info', ...settings });
    running.push(tool);
    return tool;
  };

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-process-'));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((tool) => tool.stop('SIGKILL')));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves /healthz and /readyz on the embedded database, and SIGTERM exits 0 and frees DATA_DIR', async () => {
    const startedAt = Date.now();
    const tool = start();
    const url = await listeningUrl(tool);
    assert.deepEqual(await status(`${url}/healthz`), { code: 200, body: { status: 'ok' } });
    assert.deepEqual(await status(`${url}/readyz`), { code: 200, body: { status: 'ready' } });
    assert.ok(Date.now() - startedAt < 20_000);
    assert.equal((await fetch(`${url}/healthz`)).headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await tool.stop('SIGTERM'), 0);
    assert.ok(tool.logs.some((l) => l.msg === 'stopped'));
    assert.equal(existsSync(join(dataDir, 'live-classroom.lock')), false);
  });

  it('finds its data again after a SIGTERM and a restart', async () => {
    const first = start();
    await listeningUrl(first);
    assert.equal(await first.stop('SIGTERM'), 0);

    let db = await Database.openEmbedded(dataDir);
    const course = await createRepositories(db.orm).courses.upsert(courseKey, { title: 'Kept across restarts' });
    await db.close();

    const second = start();
    const url = await listeningUrl(second);
    assert.equal((await status(`${url}/readyz`)).code, 200);
    assert.equal(await second.stop('SIGTERM'), 0);

    db = await Database.openEmbedded(dataDir);
    const found = await createRepositories(db.orm).courses.find(courseKey);
    await db.close();
    assert.equal(found?.id, course.id);
  });

  it('refuses a second process on the same DATA_DIR, and the first keeps serving', async () => {
    const first = start();
    const url = await listeningUrl(first);
    const second = start();
    assert.equal(await second.exited, 1);
    assert.match(second.stderr(), /^live-classroom: DATA_DIR .* is in use by another Live Classroom process \(pid \d+/);
    assert.equal((await status(`${url}/readyz`)).code, 200);
  });

  it('starts again on the same DATA_DIR after kill -9', async () => {
    const first = start();
    await listeningUrl(first);
    assert.equal(await first.stop('SIGKILL'), null);
    const second = start();
    const url = await listeningUrl(second);
    assert.equal((await status(`${url}/readyz`)).code, 200);
    assert.equal(await second.stop('SIGTERM'), 0);
  });

  it('stops with one line naming a bad setting', async () => {
    const tool = start({ PORT: 'eighty', RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000' });
    assert.equal(await tool.exited, 1);
    assert.deepEqual(tool.stderr().trim().split('\n'), [
      'live-classroom: Setting PORT="eighty" is invalid: expected a TCP port number from 0 to 65535.',
      'live-classroom: Setting RTC_MAX_PORT=40000 is invalid: expected a port above RTC_MIN_PORT (50000).',
    ]);
  });

  it('does not wait for idle keep-alive connections when told to stop', async () => {
    const tool = start();
    const url = new URL(await listeningUrl(tool));
    const socket: Socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n\r\n`);
    await once(socket, 'data');
    const stoppedAt = Date.now();
    assert.equal(await tool.stop('SIGTERM'), 0);
    assert.ok(Date.now() - stoppedAt < 5_000, 'an idle connection held the shutdown');
    socket.destroy();
  });

  it('reports an unreachable DATABASE_URL by name, says 503 on /readyz, keeps retrying, and still stops on SIGTERM', async () => {
    const tool = start({ DATABASE_URL: 'postgres://lc:hunter2@127.0.0.1:1/lc' });
    const url = await listeningUrl(tool);
    assert.equal((await status(`${url}/healthz`)).code, 200);
    await tool.waitForLog((l) => /retrying/.test(String(l.msg)));
    const ready = await status(`${url}/readyz`);
    assert.equal(ready.code, 503);
    // Anyone may ask /readyz: it says what is missing, the log says where (no host, port or user in the answer).
    assert.match(String(ready.body.reason), /database/);
    assert.doesNotMatch(JSON.stringify(ready.body), /127\.0\.0\.1|lc:|postgres/);
    const line = tool.logs.find((l) => /retrying/.test(String(l.msg)));
    assert.match(String(line?.msg), /DATABASE_URL postgres:\/\/lc:\*\*\*@127\.0\.0\.1:1\/lc\) cannot be reached: .*; retrying in \d/);
    assert.ok(!JSON.stringify(tool.logs).includes('hunter2'), 'the password reached a log line');
    assert.equal(await tool.stop('SIGTERM'), 0);
  });

  it('becomes ready once a PostgreSQL server that was down comes up', { skip: serverUrl ? false : 'DATABASE_URL is not set' }, async (t) => {
    // A port where "the database" will appear: nothing listens there at first, then a relay to the real server.
    const placeholder = createServer();
    placeholder.listen(0, '127.0.0.1');
    await once(placeholder, 'listening');
    const port = (placeholder.address() as { port: number }).port;
    placeholder.close();
    const target = new URL(serverUrl!);
    const databaseUrl = new URL(serverUrl!);
    databaseUrl.host = `127.0.0.1:${port}`;

    const tool = start({ DATABASE_URL: databaseUrl.toString() });
    const url = await listeningUrl(tool);
    await tool.waitForLog((l) => /retrying/.test(String(l.msg)));
    assert.equal((await status(`${url}/readyz`)).code, 503);

    const relay: Server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    relay.listen(port, '127.0.0.1');
    await once(relay, 'listening');
    t.after(() => {
      relay.close();
    });
    await until(async () => ((await status(`${url}/readyz`)).code === 200 ? true : undefined), 20_000, '/readyz to say 200');
    assert.ok(tool.logs.some((l) => String(l.msg).startsWith('database ready: DATABASE_URL')));
    assert.equal(await tool.stop('SIGTERM'), 0);
  });
});
