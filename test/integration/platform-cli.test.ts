// `npm run platform`: the admin CLI against a running tool (through its admin API), with no tool
// running (it opens DATA_DIR itself), waiting for a tool that is starting, and on PostgreSQL.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseSettings } from '../../config/index.ts';
import { DataDirLock } from '../../server/db/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import type { RegisteredPlatform } from '../../lti/index.ts';
import { useToolAt } from '../helpers/classroom.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { Platform } from '../helpers/platform/index.ts';
import { createTemporaryDatabase, serverUrl } from '../helpers/postgres.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';

/** What `platform list --json` prints, one per line: the registry's own shape. */
type Listed = RegisteredPlatform;

async function launchStatus(platform: Platform, toolUrl: string): Promise<{ status: number; body: string }> {
  useToolAt(platform, toolUrl);
  const result = await platform.launch({ roles: 'instructor', user: { id: 'teacher-1', name: 'Ada Teacher' } });
  return { status: result.response.status, body: result.response.body };
}

describe('the platform CLI', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let tool: ToolProcess | undefined;
  let platform: Platform | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-cli-'));
    env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  afterEach(async () => {
    await tool?.stop();
    tool = undefined;
    await platform?.close();
    platform = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds a Moodle with the preset through the running tool, lists it, and the LMS can launch', async () => {
    tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const toolUrl = await listeningUrl(tool);
    platform = await Platform.start({ flavor: 'moodle' });

    const added = await runCli(
      ['add', '--preset', 'moodle', '--url', platform.baseUrl, '--client-id', platform.clientId, '--deployment-id', platform.deploymentId],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stderr, new RegExp(`via the running tool at ${toolUrl.replaceAll('.', '\\.')}`));
    assert.match(added.stdout, /^added\t/);

    const listed = await runCli(['list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0]!.split('\t').slice(1), [platform.issuer, `client ${platform.clientId}`, `deployments ${platform.deploymentId}`, 'active']);

    const json = await runCli(['list', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const [entry] = JSON.parse(json.stdout) as Listed[];
    assert.deepEqual(entry, {
      name: `Moodle ${new URL(platform.baseUrl).host}`,
      issuer: platform.issuer,
      clientId: platform.clientId,
      authUrl: platform.authUrl,
      tokenUrl: platform.tokenUrl,
      jwksUrl: platform.jwksUrl,
      deploymentIds: [platform.deploymentId],
      active: true,
    });

    const launched = await launchStatus(platform, toolUrl);
    assert.equal(launched.status, 200, launched.body);
    assert.match(launched.body, /seat-token="/);

    // add on the same issuer and client id updates it and adds the deployment.
    const second = platform.addDeployment();
    const updated = await runCli(['add', '--preset', 'moodle', '--url', platform.baseUrl, '--client-id', platform.clientId, '--deployment-id', second, '--name', 'Our Moodle'], env);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /^updated\tOur Moodle\t/);
    const [after] = JSON.parse((await runCli(['list', '--json'], env)).stdout) as Listed[];
    assert.deepEqual(after?.deploymentIds.sort(), [platform.deploymentId, second].sort());

    const removed = await runCli(['remove', '--issuer', platform.issuer, '--client-id', platform.clientId], env);
    assert.equal(removed.code, 0, removed.stderr);
    const empty = await runCli(['list', '--json'], env);
    assert.deepEqual(JSON.parse(empty.stdout), []);
    const again = await runCli(['remove', '--issuer', platform.issuer, '--client-id', platform.clientId], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no platform is registered with issuer/);
  });

  it('answers 401 on the admin API without the admin token, which is readable by the owner only', async () => {
    tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const toolUrl = await listeningUrl(tool);
    const tokenFile = join(dataDir, 'admin.token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const get = (authorization?: string) =>
      fetch(`${toolUrl}/admin/api/platforms`, { headers: authorization === undefined ? {} : { authorization } });
    assert.equal((await get()).status, 401);
    assert.equal((await get(`Bearer ${token.slice(0, -1)}x`)).status, 401);
    assert.equal((await get(`Bearer ${token}x`)).status, 401);
    assert.equal((await get(token)).status, 401, 'not a bearer credential');
    const ok = await get(`Bearer ${token}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { platforms: [] });
    const bad = await fetch(`${toolUrl}/admin/api/platforms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ platform: { name: 'x', issuer: 'not a url' }, deploymentIds: [] }),
    });
    assert.equal(bad.status, 400);
    assert.equal(await tool.stop(), 0);
    tool = undefined;
    assert.equal(existsSync(tokenFile), false, 'the token goes away with the tool');
  });

  it('opens DATA_DIR itself when no tool runs, and a tool started afterwards lets that Canvas launch', async () => {
    platform = await Platform.start({ flavor: 'canvas' });
    const added = await runCli(
      ['add', '--preset', 'canvas', '--url', platform.baseUrl, '--client-id', platform.clientId, '--deployment-id', platform.deploymentId],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stderr, new RegExp(`tool not running; opened DATA_DIR ${dataDir} directly`));
    assert.equal(existsSync(join(dataDir, 'live-classroom.lock')), false, 'the CLI released DATA_DIR');
    const [entry] = JSON.parse((await runCli(['list', '--json'], env)).stdout) as Listed[];
    assert.equal(entry?.issuer, 'https://canvas.instructure.com');
    assert.equal(entry?.authUrl, `${platform.baseUrl}/api/lti/authorize_redirect`);

    tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const launched = await launchStatus(platform, await listeningUrl(tool));
    assert.equal(launched.status, 200, launched.body);
  });

  it('waits for a tool that holds DATA_DIR but does not serve yet, and gives up after --wait', async () => {
    const lock = DataDirLock.acquire(dataDir);
    try {
      const gaveUp = await runCli(['list', '--wait', '0.5'], env);
      assert.equal(gaveUp.code, 1);
      assert.match(gaveUp.stderr, /is starting; waiting up to/);
      assert.match(gaveUp.stderr, new RegExp(`pid ${process.pid}.*did not start serving`));

      const waiting = startCli(['list', '--json', '--wait', '30'], env);
      await waiting.waitForStderr(/is starting; waiting up to 30 s/);
      lock.release();
      const result = await waiting.result;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /tool not running; opened DATA_DIR/);
      assert.deepEqual(JSON.parse(result.stdout), []);
    } finally {
      lock.release();
    }
  });

  it('refuses bad command lines with exit code 2 and a line naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['add', '--preset', 'moodle', '--url', 'https://moodle.example.edu', '--deployment-id', '1'], /--client-id is required/],
      [['add', '--preset', 'moodle', '--url', 'https://moodle.example.edu', '--client-id', 'c'], /--deployment-id is required/],
      [['add', '--preset', 'moodle', '--client-id', 'c', '--deployment-id', '1'], /--preset moodle needs --url/],
      [['add', '--preset', 'blackboard', '--client-id', 'c', '--deployment-id', '1'], /--preset "blackboard" is unknown/],
      [['add', '--client-id', 'c', '--deployment-id', '1', '--issuer', 'https://lms.example.edu'], /--auth-url is required/],
      [['add', '--preset', 'canvas', '--client-id', 'c', '--deployment-id', '1', '--jwks-url', 'ftp://x'], /--jwks-url "ftp:\/\/x" is not an http/],
      [['add', '--preset', 'moodle', '--url', 'moodle.example.edu', '--client-id', 'c', '--deployment-id', '1'], /--url "moodle\.example\.edu" is not an http/],
      [['list', '--issuer', 'https://x.example'], /list does not take --issuer/],
      [['activate', '--client-id', 'c'], /--issuer is required/],
      [['remove', '--issuer', 'https://x.example'], /--client-id is required/],
      [['list', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stderr.trim().split('\n').length, 2, `one line and a pointer to --help: ${result.stderr}`);
    }
    const help = await runCli(['--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: npm run platform -- <command>/);
    assert.equal(existsSync(join(dataDir, 'pglite')), false, 'usage errors open nothing');
  });

  it('uses DATABASE_URL directly, and the tool on that database sees the platform', { skip: serverUrl === undefined && 'DATABASE_URL is not set' }, async () => {
    const database = await createTemporaryDatabase(serverUrl as string);
    const ltiKey = 'k'.repeat(40);
    let service: Service | undefined;
    try {
      platform = await Platform.start({ flavor: 'moodle' });
      const pgEnv = { ...env, DATABASE_URL: database.url, LTI_KEY: ltiKey };
      const args = ['add', '--preset', 'moodle', '--url', platform.baseUrl, '--client-id', platform.clientId, '--deployment-id', platform.deploymentId];
      const noKey = await runCli(args, { ...env, DATABASE_URL: database.url });
      assert.equal(noKey.code, 1);
      assert.match(noKey.stderr, /no LTI key: set LTI_KEY/);
      const added = await runCli(args, pgEnv);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stderr, /platform: using DATABASE_URL postgres/);
      service = await Service.start(
        parseSettings({ DATA_DIR: dataDir, DATABASE_URL: database.url, LTI_KEY: ltiKey, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
        createLogger('silent'),
      );
      await service.whenDatabaseReady();
      const launched = await launchStatus(platform, service.url);
      assert.equal(launched.status, 200, launched.body);
      assert.equal((await fetch(`${service.url}/admin/api/platforms`)).status, 404, 'no admin API with DATABASE_URL');
    } finally {
      await service?.stop();
      await database.drop();
    }
  });
});
