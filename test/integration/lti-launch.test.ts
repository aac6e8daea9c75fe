// The OIDC launch through ltijs, end to end over HTTP, with a minimal signing platform.
// (The full platform simulator in test/helpers/platform will take over these flows.)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { CookieJar } from '../helpers/platform/index.ts';

const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
const ROLE = {
  instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
  guest: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor',
};

interface LaunchOptions {
  sub?: string;
  roles?: string[];
  deploymentId?: string;
  context?: { id: string; title: string } | null;
  tamper?: (claims: Record<string, unknown>) => void;
  signWith?: CryptoKey;
}

describe('LTI launch', () => {
  let dataDir: string;
  let service: Service;
  let jwksServer: Server;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;
  let issuer: string;
  const clientId = 'moodle-client-1';
  const kid = 'platform-key-1';

  before(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    jwksServer.listen(0, '127.0.0.1');
    await once(jwksServer, 'listening');
    issuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;

    dataDir = mkdtempSync(join(tmpdir(), 'lc-launch-'));
    const settings = parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    service = await Service.start(settings, createLogger('silent'));
    await service.lti.platforms.add(
      { name: 'Moodle', issuer, clientId, authUrl: `${issuer}/auth`, tokenUrl: `${issuer}/token`, jwksUrl: `${issuer}/jwks` },
      ['deployment-1'],
    );
  });
  after(async () => {
    await service?.stop();
    jwksServer?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Login initiation, the platform's id_token, the form post, and ltijs' redirect, as a browser does them. */
  async function launch(options: LaunchOptions = {}) {
    const jar = new CookieJar();
    const sub = options.sub ?? 'user-1';
    const login = new URL(`${service.url}/lti/login`);
    login.search = new URLSearchParams({
      iss: issuer,
      login_hint: sub,
      target_link_uri: `${service.url}/lti/launch`,
      lti_message_hint: 'hint',
      client_id: clientId,
      lti_deployment_id: options.deploymentId ?? 'deployment-1',
    }).toString();
    const initiation = await fetch(login, { redirect: 'manual' });
    assert.equal(initiation.status, 302, await initiation.clone().text());
    jar.store(login.toString(), initiation.headers.getSetCookie());
    const auth = new URL(initiation.headers.get('location')!);
    assert.equal(`${auth.origin}${auth.pathname}`, `${issuer}/auth`);
    const state = auth.searchParams.get('state')!;
    const nonce = auth.searchParams.get('nonce')!;
    assert.equal(auth.searchParams.get('redirect_uri'), `${service.url}/lti/launch`);

    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: issuer,
      aud: clientId,
      sub,
      iat: now,
      exp: now + 300,
      nonce,
      name: 'Ada Lovelace',
      email: 'ada@example.edu',
      [`${LTI}message_type`]: 'LtiResourceLinkRequest',
      [`${LTI}version`]: '1.3.0',
      [`${LTI}deployment_id`]: options.deploymentId ?? 'deployment-1',
      [`${LTI}target_link_uri`]: `${service.url}/lti/launch`,
      [`${LTI}resource_link`]: { id: 'rl-1', title: 'Week 1 lecture' },
      [`${LTI}roles`]: options.roles ?? [ROLE.instructor],
      [`${LTI}launch_presentation`]: { locale: 'zh-CN', document_target: 'iframe' },
    };
    if (options.context !== null) claims[`${LTI}context`] = options.context ?? { id: 'course-42', title: 'Physics 101' };
    options.tamper?.(claims);
    const idToken = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(options.signWith ?? privateKey);

    const post = await fetch(`${service.url}/lti/launch`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(`${service.url}/lti/launch`) },
      body: new URLSearchParams({ id_token: idToken, state }),
    });
    jar.store(`${service.url}/lti/launch`, post.headers.getSetCookie());
    if (post.status !== 302) return { response: post, body: await post.text(), idToken, state };
    const next = new URL(post.headers.get('location')!, service.url);
    const page = await fetch(next, { headers: { cookie: jar.header(next.toString()) }, redirect: 'manual' });
    return { response: page, body: await page.text(), idToken, state };
  }

  it('gives an instructor the class page with a seat token bound to them, the room and the host role', async () => {
    const { response, body } = await launch({ sub: 'teacher-1' });
    assert.equal(response.status, 200, body);
    assert.match(body, /<live-classroom room-id="[0-9a-f-]{36}" role="host" locale="zh-CN" seat-token="/);
    assert.match(body, /<h1>Week 1 lecture<\/h1>/);
    const token = /seat-token="([^"]+)"/.exec(body)![1]!;
    const seat = service.seats.verify(token);
    assert.equal(seat.role, 'host');
    assert.equal(seat.name, 'Ada Lovelace');
    const course = await service.repositories.courses.find({ issuer, deploymentId: 'deployment-1', contextId: 'course-42' });
    assert.equal(course?.title, 'Physics 101');
    const room = await service.repositories.rooms.get(seat.roomId);
    assert.equal(room?.courseId, course?.id);
    assert.equal(room?.resourceLinkId, 'rl-1');
  });

  it('lets only the launching platform frame the class page (CSP frame-ancestors)', async () => {
    const moodle = await launch({ sub: 'teacher-frame' });
    assert.equal(moodle.response.status, 200, moodle.body);
    assert.equal(moodle.response.headers.get('content-security-policy'), `frame-ancestors 'self' ${new URL(issuer).origin}`);
    // Canvas's issuer is canvas.instructure.com; the page it returns to names the school's own domain.
    const canvas = await launch({
      sub: 'teacher-frame-2',
      tamper: (claims) => {
        claims[`${LTI}launch_presentation`] = { locale: 'en', document_target: 'iframe', return_url: 'https://school.instructure.com/courses/7/external_content/success/external_tool_redirect' };
      },
    });
    assert.equal(canvas.response.status, 200, canvas.body);
    assert.equal(canvas.response.headers.get('content-security-policy'), `frame-ancestors 'self' ${new URL(issuer).origin} https://school.instructure.com`);
  });

  it('gives a learner the same room as an attendee', async () => {
    const teacher = await launch({ sub: 'teacher-2' });
    const student = await launch({ sub: 'student-1', roles: [ROLE.learner] });
    assert.equal(student.response.status, 200, student.body);
    const roomOf = (body: string) => service.seats.verify(/seat-token="([^"]+)"/.exec(body)![1]!);
    assert.equal(roomOf(student.body).role, 'attendee');
    assert.equal(roomOf(student.body).roomId, roomOf(teacher.body).roomId);
  });

  it('refuses a role it does not know, and records why', async () => {
    const { response, body } = await launch({ sub: 'mentor-1', roles: [ROLE.guest] });
    assert.equal(response.status, 403);
    assert.match(body, /does not give access to live classes/);
    assert.doesNotMatch(body, /seat-token/);
  });

  it('refuses a deployment that was not registered, storing nothing', async () => {
    const { response, body } = await launch({ sub: 'x-1', deploymentId: 'deployment-unknown', context: { id: 'course-unknown', title: 'Unknown' } });
    assert.equal(response.status, 403);
    assert.match(body, /deployment &quot;deployment-unknown&quot;/);
    assert.equal(await service.repositories.courses.find({ issuer, deploymentId: 'deployment-unknown', contextId: 'course-unknown' }), undefined);
  });

  it('refuses a launch without a course', async () => {
    const { response, body } = await launch({ sub: 'x-2', context: null });
    assert.equal(response.status, 400);
    assert.match(body, /no course/);
  });

  it('refuses an id_token signed with a key the platform did not publish', async () => {
    const { response } = await launch({ sub: 'x-3', signWith: otherKey });
    assert.equal(response.status, 401);
  });

  it('refuses an expired id_token and one for another audience', async () => {
    const expired = await launch({ sub: 'x-4', tamper: (c) => void (c.exp = Math.floor(Date.now() / 1000) - 60) });
    assert.equal(expired.response.status, 401);
    const otherAudience = await launch({ sub: 'x-5', tamper: (c) => void (c.aud = 'someone-else') });
    assert.equal(otherAudience.response.status, 401);
  });

  it('refuses to replay a launch that already succeeded', async () => {
    const first = await launch({ sub: 'x-6' });
    assert.equal(first.response.status, 200);
    const replay = await fetch(`${service.url}/lti/launch`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ id_token: first.idToken, state: first.state }),
    });
    assert.equal(replay.status, 401);
  });

  it('refuses a login from an issuer it does not know, saying so', async () => {
    const response = await fetch(`${service.url}/lti/login?iss=https://unknown.example.edu&login_hint=1&target_link_uri=${encodeURIComponent(`${service.url}/lti/launch`)}&client_id=y`, { redirect: 'manual' });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /https:\/\/unknown\.example\.edu is not registered with Live Classroom/);
  });
});
