// Bad launches, one by one, through the platform simulator: each gets a clear page or status (4xx,
// never 5xx), stores nothing (no user, course, room, membership or access decision), and the tool
// serves a good launch right after.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { introduce, useToolAt } from '../helpers/classroom.ts';
import { CLAIM, Platform, type HttpResponse, type LaunchOptions, type LaunchResult } from '../helpers/platform/index.ts';

const TABLES = ['users', 'courses', 'rooms', 'memberships', 'access_decisions'] as const;
type Counts = Record<(typeof TABLES)[number], number>;

describe('bad launch input', () => {
  let dataDir: string;
  let service: Service;
  /** The registered, active platform every case launches from unless it says otherwise. */
  let platform: Platform;
  /** Never registered with the tool. */
  let stranger: Platform;
  /** Registered, then set inactive (as a dynamically registered platform awaiting activation is). */
  let dormant: Platform;
  let goodLaunches = 0;
  let badLaunches = 0;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-bad-input-'));
    service = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
    platform = await Platform.start({ flavor: 'moodle' });
    stranger = await Platform.start({ flavor: 'moodle', name: 'Unregistered Moodle' });
    dormant = await Platform.start({ flavor: 'moodle', name: 'Dormant Moodle' });
    for (const p of [platform, dormant]) await introduce(service, p);
    useToolAt(stranger, service.url);
    await setActive(dormant, false);
  });
  after(async () => {
    await platform?.close();
    await stranger?.close();
    await dormant?.close();
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** ltijs keeps a platform's activation as a `platformStatus` document keyed by the platform's kid. */
  async function setActive(p: Platform, active: boolean): Promise<void> {
    const db = service.database!;
    const [row] = await db.rows<{ kid: string }>(
      sql`select fields->>'kid' as kid from lti_store where collection = 'platform' and fields->>'platformUrl' = ${p.issuer} and fields->>'clientId' = ${p.clientId}`,
    );
    assert.ok(row?.kid, `platform ${p.issuer} is not stored`);
    await db.rows(sql`delete from lti_store where collection = 'platformStatus' and fields->>'id' = ${row.kid}`);
    await db.rows(sql`insert into lti_store (collection, fields) values ('platformStatus', ${JSON.stringify({ id: row.kid, active })}::jsonb)`);
  }

  async function counts(): Promise<Counts> {
    const out = {} as Counts;
    for (const table of TABLES) {
      const [row] = await service.database!.rows<{ n: number }>(sql.raw(`select count(*)::int as n from ${table}`));
      out[table] = row?.n ?? Number.NaN;
    }
    return out;
  }

  /** The tool's final answer to the browser, whichever stage the flow stopped at. */
  function finalResponse(result: LaunchResult): HttpResponse {
    return result.response;
  }

  /**
   * Runs one bad launch as a fresh user in a fresh course (so anything stored would add rows), and
   * checks: the expected 4xx status, the phrase on the page, no new rows, then a good launch.
   */
  async function refused(
    options: LaunchOptions & { from?: Platform },
    expected: { status: number; phrase: RegExp; stage?: LaunchResult['stage'] },
  ): Promise<HttpResponse> {
    badLaunches++;
    const before = await counts();
    const { from = platform, ...launch } = options;
    const result = await from.launch({
      user: { id: `bad-user-${badLaunches}`, name: `Bad User ${badLaunches}` },
      context: { id: `bad-course-${badLaunches}`, title: `Bad course ${badLaunches}` },
      resourceLink: { id: `bad-link-${badLaunches}`, title: 'Bad link' },
      ...launch,
    });
    const response = finalResponse(result);
    if (process.env.SHOW_PAGES) console.log(`[${expected.status}] ${response.status} ${response.body.replace(/<style>[\s\S]*?<\/style>/, '').replace(/\s+/g, ' ').slice(-400)}`);
    const summary = `stage ${result.stage}, HTTP ${response.status}: ${response.body.slice(0, 600)}`;
    assert.ok(response.status < 500, `a server error instead of a refusal (${summary})`);
    if (expected.stage) assert.equal(result.stage, expected.stage, summary);
    assert.equal(response.status, expected.status, summary);
    assert.match(response.body, expected.phrase, summary);
    assert.doesNotMatch(response.body, /seat-token/, summary);
    assert.deepEqual(await counts(), before, 'a refused launch stored something');
    await goodLaunch();
    return response;
  }

  async function goodLaunch(): Promise<void> {
    goodLaunches++;
    const result = await platform.launch({ roles: 'learner', user: { id: 'good-user', name: 'Good User' } });
    assert.equal(result.stage, 'launched', `a good launch stopped at ${result.stage}: HTTP ${result.response.status} ${result.response.body.slice(0, 300)}`);
    assert.equal(result.response.status, 200, result.response.body.slice(0, 600));
    const token = /seat-token="([^"]+)"/.exec(result.response.body)?.[1];
    assert.ok(token, 'the class page carries a seat token');
    assert.equal(service.seats.verify(token).role, 'attendee');
  }

  const now = () => Math.floor(Date.now() / 1000);
  const without = (...claims: string[]) => (c: Record<string, unknown>) => {
    for (const claim of claims) delete c[claim];
  };

  it('serves a good launch to begin with', async () => {
    await goodLaunch();
  });

  it('refuses a login from an unknown issuer, naming it', async () => {
    await refused({ from: stranger }, { stage: 'login', status: 400, phrase: /is not registered with Live Classroom/ });
  });

  it('refuses an id_token whose issuer is not the one that started the login', async () => {
    await refused({ tamper: (c) => void (c.iss = 'https://unknown.example.edu') }, { status: 401, phrase: /This launch could not be verified[\s\S]*does not match a sign-in started in this browser/ });
  });

  it('refuses a platform that is registered but not activated', async () => {
    await refused({ from: dormant }, { stage: 'login', status: 401, phrase: /an administrator must activate it/ });
  });

  it('refuses a deployment that was not registered', async () => {
    await refused(
      { tamper: (c) => void (c[CLAIM.deploymentId] = 'deployment-unknown') },
      { status: 403, phrase: /does not know deployment &quot;deployment-unknown&quot;/ },
    );
  });

  it('refuses an id_token for another audience', async () => {
    await refused({ tamper: (c) => void (c.aud = 'someone-else') }, { status: 401, phrase: /This launch could not be verified[\s\S]*client id that is not registered/ });
  });

  it('refuses an expired id_token', async () => {
    await refused(
      { tamper: (c) => Object.assign(c, { iat: now() - 3600, exp: now() - 600 }) },
      { status: 401, phrase: /This launch could not be verified[\s\S]*expired before it reached Live Classroom/ },
    );
  });

  it('refuses an id_token issued more than the 60 s tolerance ago (though not yet expired)', async () => {
    await refused(
      { tamper: (c) => Object.assign(c, { iat: now() - 600, exp: now() + 600 }) },
      { status: 401, phrase: /This launch could not be verified[\s\S]*expired before it reached Live Classroom/ },
    );
  });

  it('refuses an id_token from the future', async () => {
    await refused(
      { user: { id: 'future-user' }, tamper: (c) => Object.assign(c, { iat: now() + 3600, exp: now() + 7200 }) },
      { status: 401, phrase: /This launch could not be verified[\s\S]*dated in the future/ },
    );
  });

  it('refuses an id_token not yet valid (nbf in the future)', async () => {
    await refused({ tamper: (c) => void (c.nbf = now() + 3600) }, { status: 401, phrase: /This launch could not be verified[\s\S]*dated in the future/ });
  });

  it('refuses an id_token signed with a key the platform did not publish', async () => {
    await refused({ signing: { key: 'other' } }, { status: 401, phrase: /This launch could not be verified[\s\S]*signature does not match/ });
  });

  it('refuses an unsigned id_token (alg: none)', async () => {
    await refused({ signing: { alg: 'none' } }, { status: 401, phrase: /This launch could not be verified[\s\S]*not signed with RS256/ });
  });

  it('refuses an id_token signed under an unknown kid', async () => {
    await refused({ signing: { kid: 'unknown-kid' } }, { status: 401, phrase: /This launch could not be verified[\s\S]*key the LMS does not publish/ });
  });

  it('refuses a replayed nonce', async () => {
    await goodLaunch(); // the nonce the next launch replays has just been used
    await refused({ replayNonce: true }, { status: 401, phrase: /This launch could not be verified[\s\S]*was already used/ });
  });

  it('refuses a mismatched state', async () => {
    await refused({ state: 'mismatch' }, { status: 401, phrase: /This launch could not be verified[\s\S]*Open the activity again from the course page/ });
  });

  it('refuses an id_token without sub', async () => {
    await refused({ tamper: without('sub') }, { status: 401, phrase: /This launch could not be verified[\s\S]*no user \(sub\) claim/ });
  });

  it('refuses an id_token without iat', async () => {
    await refused({ user: { id: 'no-iat-user' }, tamper: without('iat') }, { status: 401, phrase: /This launch could not be verified[\s\S]*no issue time \(iat\) claim/ });
  });

  it('refuses an id_token without exp', async () => {
    await refused({ user: { id: 'no-exp-user' }, tamper: without('exp') }, { status: 401, phrase: /This launch could not be verified[\s\S]*no expiry \(exp\) claim/ });
  });

  it('refuses an id_token without nonce', async () => {
    await refused({ tamper: without('nonce') }, { status: 401, phrase: /This launch could not be verified[\s\S]*no nonce claim/ });
  });

  it('refuses an id_token without message_type', async () => {
    await refused({ tamper: without(CLAIM.messageType) }, { status: 401, phrase: /This launch could not be verified[\s\S]*no message type claim/ });
  });

  it('refuses an id_token without version', async () => {
    await refused({ tamper: without(CLAIM.version) }, { status: 401, phrase: /This launch could not be verified[\s\S]*no LTI version claim/ });
  });

  it('refuses an id_token with a version other than 1.3.0', async () => {
    await refused({ tamper: (c) => void (c[CLAIM.version] = '1.1') }, { status: 401, phrase: /This launch could not be verified[\s\S]*not an LTI 1.3 launch/ });
  });

  it('refuses an id_token without deployment_id', async () => {
    await refused({ tamper: without(CLAIM.deploymentId) }, { status: 401, phrase: /This launch could not be verified[\s\S]*no deployment id claim/ });
  });

  it('refuses an id_token without roles', async () => {
    await refused({ tamper: without(CLAIM.roles) }, { status: 401, phrase: /This launch could not be verified[\s\S]*no roles claim/ });
  });

  it('refuses an id_token without resource_link', async () => {
    await refused({ tamper: without(CLAIM.resourceLink) }, { status: 401, phrase: /This launch could not be verified[\s\S]*no resource link claim/ });
  });

  it('refuses a launch with no context, saying to open it from a course', async () => {
    await refused({ context: null }, { status: 400, phrase: /Open the live class from a course/ });
  });

  it('refuses an id_token of 1 MB cleanly', async () => {
    const huge = 'x'.repeat(1024 * 1024);
    await refused({ tamper: (c) => void (c['https://example.edu/huge'] = huge) }, { status: 413, phrase: /too large/ });
  });

  it('refuses launches from a platform whose key set was never fetched while it is down, and launches once it is back', async () => {
    // The tool keeps a key set once fetched (test/integration/lti-key-sets.test.ts): a platform the
    // tool has never fetched keys from is the one a JWKS outage can stop.
    const fresh = await Platform.start({ flavor: 'moodle', name: 'Fresh Moodle' });
    try {
      await introduce(service, fresh);
      fresh.setJwksDown(true);
      const before = await counts();
      const result = await fresh.launch({ user: { id: 'jwks-down-user' }, context: { id: 'jwks-down-course' } });
      const summary = `stage ${result.stage}, HTTP ${result.response.status}: ${result.response.body.slice(0, 600)}`;
      if (process.env.SHOW_PAGES) console.log(`[502] ${result.response.status} jwks fetches ${fresh.jwksFetches} ${result.response.body.replace(/<style>[\s\S]*?<\/style>/, '').replace(/\s+/g, ' ').slice(-300)}`);
      assert.equal(result.response.status, 502, summary);
      assert.match(result.response.body, /The LMS could not be reached[\s\S]*signing keys/, summary);
      assert.deepEqual(await counts(), before, 'a refused launch stored something');
      fresh.setJwksDown(false);
      const back = await fresh.launch({ roles: 'learner', user: { id: 'jwks-back-user' } });
      assert.equal(back.response.status, 200, back.response.body.slice(0, 600));
    } finally {
      await fresh.close();
    }
    await goodLaunch();
  });

  it('explains a refused token in words, not as an ltijs error code', async () => {
    for (const options of [{ tamper: (c: Record<string, unknown>) => void (c.aud = 'someone-else') }, { tamper: without(CLAIM.roles) }, { signing: { kid: 'unknown-kid' } }]) {
      const response = await refused(options, { status: 401, phrase: /This launch could not be verified/ });
      assert.doesNotMatch(response.body, /\([A-Z][A-Z0-9]*(_[A-Z0-9]+)+\)/, 'the page shows a raw ltijs error code');
    }
  });

  it('serves a good launch at the end, and the refused users were never stored', async () => {
    await goodLaunch();
    const [row] = await service.database!.rows<{ n: number }>(sql`select count(*)::int as n from users where subject like 'bad-user-%' or subject = 'jwks-down-user'`);
    assert.equal(row?.n, 0);
  });
});
