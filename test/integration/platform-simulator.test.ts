// The LTI platform simulator checked on its own, against a minimal fake tool: if these pass, a tool
// test that fails against the simulator fails because of the tool.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import express from 'express';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { CLAIM, NRPS_MEDIA_TYPE, Platform, ROLES, SCOPES, type Flavor } from '../helpers/platform/index.ts';

interface FakeTool {
  url: string;
  launches: JWTPayload[];
  signAssertion(claims: JWTPayload, key?: 'tool' | 'stranger'): Promise<string>;
  close(): Promise<void>;
}

/** Just enough of a tool: OIDC login with a state cookie, id_token verification, a JWKS. */
async function startFakeTool(platform: Platform): Promise<FakeTool> {
  const tool = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(tool.publicKey)), kid: 'tool-key', alg: 'RS256', use: 'sig' };
  const platformKeys = createRemoteJWKSet(new URL(platform.jwksUrl));
  const nonces = new Map<string, string>();
  const launches: JWTPayload[] = [];
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  let base = '';
  app.get('/keys', (_req, res) => {
    res.json({ keys: [jwk] });
  });
  app.all('/login', (req, res) => {
    const p = (req.method === 'GET' ? req.query : req.body) as Record<string, string>;
    const state = randomBytes(8).toString('hex');
    const nonce = randomBytes(8).toString('hex');
    nonces.set(state, nonce);
    const auth = new URL(platform.authUrl);
    auth.search = new URLSearchParams({
      scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none',
      client_id: p.client_id ?? '', redirect_uri: p.target_link_uri ?? '', login_hint: p.login_hint ?? '',
      lti_message_hint: p.lti_message_hint ?? '', state, nonce,
    }).toString();
    res.cookie('lti_state', state, { httpOnly: true }).redirect(302, auth.toString());
  });
  app.post('/launch', async (req, res) => {
    const body = req.body as Record<string, string>;
    const cookieState = /lti_state=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (!body.state || body.state !== cookieState) return void res.status(401).send('state mismatch');
    const verified = await jwtVerify(body.id_token ?? '', platformKeys, { issuer: platform.issuer, audience: platform.clientId }).catch(() => undefined);
    if (!verified) return void res.status(401).send('bad id_token');
    const { payload } = verified;
    if (payload.nonce !== nonces.get(body.state)) return void res.status(401).send('nonce mismatch');
    nonces.delete(body.state);
    launches.push(payload);
    res.redirect(303, '/room');
  });
  app.get('/room', (_req, res) => {
    res.send('in the room');
  });
  // Dynamic registration as a tool does it: fetch the configuration, post the client metadata.
  app.get('/register', async (req, res) => {
    const config = (await (await fetch(String(req.query.openid_configuration))).json()) as { registration_endpoint: string };
    const answer = await fetch(config.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(req.query.registration_token ? { authorization: `Bearer ${String(req.query.registration_token)}` } : {}) },
      body: JSON.stringify({
        application_type: 'web', response_types: ['id_token'], grant_types: ['implicit', 'client_credentials'],
        initiate_login_uri: `${base}/login`, redirect_uris: [`${base}/launch`], jwks_uri: `${base}/keys`, client_name: 'Fake',
        token_endpoint_auth_method: 'private_key_jwt', scope: SCOPES.nrps,
        'https://purl.imsglobal.org/spec/lti-tool-configuration': { domain: '127.0.0.1', target_link_uri: `${base}/launch`, messages: [{ type: 'LtiResourceLinkRequest' }] },
      }),
    });
    res.status(answer.status).send(await answer.text());
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  platform.useTool({ loginUrl: `${base}/login`, launchUrl: `${base}/launch`, jwksUrl: `${base}/keys`, deepLinkUrl: `${base}/launch` });
  return {
    url: base,
    launches,
    signAssertion: (claims, key = 'tool') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'tool-key' }).sign((key === 'tool' ? tool : stranger).privateKey as CryptoKey),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function getToken(platform: Platform, tool: FakeTool, scope: string): Promise<string> {
  const assertion = await tool.signAssertion({ iss: platform.clientId, sub: platform.clientId, aud: platform.tokenUrl, jti: randomBytes(8).toString('hex'), exp: Math.floor(Date.now() / 1000) + 60 });
  const res = await fetch(platform.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, scope }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

for (const flavor of ['moodle', 'canvas'] as Flavor[]) {
  describe(`the ${flavor} platform simulator`, () => {
    let platform: Platform;
    let tool: FakeTool;
    beforeEach(async () => {
      platform = await Platform.start({ flavor });
      tool = await startFakeTool(platform);
    });
    afterEach(async () => {
      await tool.close();
      await platform.close();
    });

    it('launches through login, auth and form post, with an id_token its JWKS verifies', async () => {
      const result = await platform.launch({ roles: 'instructor', context: { id: 'c-1', title: 'Physics', label: 'PHY' }, custom: { room: 'a' } });
      assert.equal(result.stage, 'launched');
      assert.equal(result.response.body, 'in the room');
      assert.equal(tool.launches.length, 1);
      const { payload } = await jwtVerify(result.idToken, createRemoteJWKSet(new URL(platform.jwksUrl)), { issuer: platform.issuer, audience: platform.clientId });
      assert.equal(payload[CLAIM.deploymentId], platform.deploymentId);
      assert.ok((payload[CLAIM.roles] as string[]).includes(ROLES.instructor));
      assert.deepEqual((payload[CLAIM.context] as { title: string }).title, 'Physics');
      const family = (payload[CLAIM.toolPlatform] as { product_family_code: string }).product_family_code;
      assert.equal(family, flavor);
      if (flavor === 'canvas') {
        assert.equal(platform.issuer, 'https://canvas.instructure.com');
        assert.ok(CLAIM.lti1p1 in payload && CLAIM.canvasPlacement in payload);
        assert.ok((payload[CLAIM.roles] as string[]).includes(ROLES.systemUser));
      } else {
        assert.equal(platform.issuer, platform.baseUrl);
        assert.deepEqual((payload[CLAIM.ext] as { lms: string }).lms, 'moodle-2');
      }
    });

    it('signs tokens jose rejects: alg none, an unknown kid, a key outside the JWKS', async () => {
      const jwks = createRemoteJWKSet(new URL(platform.jwksUrl));
      for (const signing of [{ alg: 'none' as const }, { kid: 'unknown-kid' }, { key: 'other' as const }]) {
        const prepared = await platform.prepareLaunch({ signing });
        await assert.rejects(jwtVerify(prepared.idToken, jwks), `${JSON.stringify(signing)} should not verify`);
        const posted = await platform.postLaunch(prepared);
        assert.equal(posted.response.status, 401, 'the fake tool fails to verify it');
      }
    });

    it('refuses an auth request with an unregistered redirect_uri, and a mismatched state reaches the tool', async () => {
      const refused = await platform.launch({ targetLinkUri: `${tool.url}/elsewhere` });
      assert.equal(refused.stage, 'auth');
      assert.equal(refused.response.status, 400);
      assert.match(platform.authRequests().at(-1)?.errorDescription ?? '', /redirect_uri/);
      const mismatch = await platform.launch({ state: 'mismatch' });
      assert.equal(mismatch.stage, 'launched');
      assert.equal(mismatch.response.status, 401);
    });

    it('replays a nonce, a whole id_token, and tampered claims when asked', async () => {
      assert.equal((await platform.launch()).response.status, 200);
      const replayed = await platform.launch({ replayNonce: true });
      assert.equal(replayed.stage === 'launched' && replayed.response.status, 401);
      const prepared = await platform.prepareLaunch({ user: { id: 'u-7', name: 'Grace Hopper' } });
      assert.equal(prepared.idTokenClaims.name, 'Grace Hopper');
      assert.equal((await platform.postLaunch(prepared)).response.status, 200);
      assert.equal((await platform.postLaunch(prepared)).response.status, 401, 'the same id_token posted twice');
      const tampered = await platform.launch({ tamper: (c) => ({ ...c, aud: 'someone-else' }) });
      assert.equal(tampered.stage === 'launched' && tampered.idTokenClaims.aud, 'someone-else');
      assert.equal(tampered.stage === 'launched' && tampered.response.status, 401);
      const byPost = await platform.launch({ initiationMethod: 'POST', storageTarget: '_parent' });
      assert.equal(byPost.stage === 'launched' && byPost.response.status, 200);
    });
  });
}

describe('the platform services', () => {
  let platform: Platform;
  let tool: FakeTool;
  beforeEach(async () => {
    platform = await Platform.start({ flavor: 'moodle' });
    tool = await startFakeTool(platform);
  });
  afterEach(async () => {
    await tool.close();
    await platform.close();
  });

  it('grants a token for a good client assertion and refuses bad ones', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: platform.clientId, sub: platform.clientId, aud: platform.tokenUrl, exp: now + 60, iat: now };
    const post = async (assertion: string, scope: string = SCOPES.nrps) => {
      const res = await fetch(platform.tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, scope }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    const ok = await post(await tool.signAssertion({ ...good, jti: 'a' }), `${SCOPES.nrps} https://example.com/unknown`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.token_type, 'Bearer');
    assert.equal(ok.body.scope, SCOPES.nrps);
    assert.equal((await post(await tool.signAssertion({ ...good, jti: 'a' }))).body.error, 'invalid_client', 'a replayed jti');
    assert.equal((await post(await tool.signAssertion({ ...good, jti: 'b' }, 'stranger'))).status, 401, 'a key outside the tool JWKS');
    assert.equal((await post(await tool.signAssertion({ ...good, jti: 'c', exp: now - 10 }))).body.error, 'invalid_client', 'expired');
    assert.equal((await post(await tool.signAssertion({ ...good, jti: 'd', aud: 'https://elsewhere' }))).body.error, 'invalid_client', 'wrong aud');
    assert.equal((await post(await tool.signAssertion({ ...good, jti: 'e' }), 'https://example.com/unknown')).body.error, 'invalid_scope');
    assert.deepEqual(platform.tokenRequests().map((r) => r.status), [200, 401, 401, 401, 401, 400]);
  });

  it('pages NRPS members with a next link, filters by rlid, and loops when asked', async () => {
    const members = Array.from({ length: 5 }, (_, i) => ({ userId: `u${i}`, name: `User ${i}`, roles: [ROLES.learner] }));
    platform.setMembers('c-1', members, { perResourceLink: { 'rl-1': ['u1', 'u3'] } });
    const launched = await platform.launch({ context: { id: 'c-1' } });
    assert.equal(launched.stage, 'launched');
    const url = (launched.idTokenClaims[CLAIM.nrps] as { context_memberships_url: string }).context_memberships_url;
    const headers = { authorization: `Bearer ${await getToken(platform, tool, SCOPES.nrps)}`, accept: NRPS_MEDIA_TYPE };
    assert.equal((await fetch(url)).status, 401);
    const seen: string[] = [];
    let next: string | undefined = `${url}&limit=2`;
    while (next) {
      const res: Response = await fetch(next, { headers });
      assert.match(res.headers.get('content-type') ?? '', /membershipcontainer\+json/);
      const body = (await res.json()) as { members: Array<{ user_id: string; status: string }> };
      seen.push(...body.members.map((m) => m.user_id));
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    assert.deepEqual(seen, ['u0', 'u1', 'u2', 'u3', 'u4']);
    const filtered = (await (await fetch(`${url}&rlid=rl-1`, { headers })).json()) as { members: Array<{ user_id: string }> };
    assert.deepEqual(filtered.members.map((m) => m.user_id), ['u1', 'u3']);
    platform.nrpsMode('loop');
    const looped = await fetch(`${url}&limit=2`, { headers });
    assert.equal(/<([^>]+)>;\s*rel="next"/.exec(looped.headers.get('link') ?? '')?.[1], `${url}&limit=2`);
    platform.nrpsMode('down');
    assert.equal((await fetch(url, { headers })).status, 503);
  });

  it('creates a line item, takes a score and reports the result', async () => {
    const launched = await platform.launch({ context: { id: 'c-2' }, user: { id: '42' } });
    assert.equal(launched.stage, 'launched');
    const lineItemsUrl = (launched.idTokenClaims[CLAIM.ags] as { lineitems: string }).lineitems;
    const token = await getToken(platform, tool, `${SCOPES.lineItem} ${SCOPES.score} ${SCOPES.resultReadonly}`);
    const auth = { authorization: `Bearer ${token}` };
    const created = await fetch(lineItemsUrl, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/vnd.ims.lis.v2.lineitem+json' },
      body: JSON.stringify({ label: 'Course fee', scoreMaximum: 100, tag: 'fee' }),
    });
    assert.equal(created.status, 201);
    const item = (await created.json()) as { id: string };
    const withSuffix = (suffix: string) => {
      const u = new URL(item.id);
      u.pathname += suffix;
      return u.toString();
    };
    const scored = await fetch(withSuffix('/scores'), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/vnd.ims.lis.v1.score+json' },
      body: JSON.stringify({ userId: '42', scoreGiven: 5, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: new Date().toISOString() }),
    });
    assert.equal(scored.status, 200);
    const results = (await (await fetch(`${withSuffix('/results')}&user_id=42`, { headers: auth })).json()) as Array<{ resultScore: unknown; resultMaximum: number }>;
    assert.deepEqual(results.map((r) => [r.resultScore, r.resultMaximum]), [[50, 100]]);
    assert.equal(platform.scores(item.id).length, 1);
    assert.equal(platform.lineItems('c-2')[0]?.tag, 'fee');
    const readOnly = await getToken(platform, tool, SCOPES.resultReadonly);
    assert.equal((await fetch(lineItemsUrl, { method: 'POST', headers: { authorization: `Bearer ${readOnly}` } })).status, 403);
    platform.agsMode('garbage');
    const garbage = (await (await fetch(withSuffix('/results'), { headers: auth })).json()) as Array<{ resultScore: unknown }>;
    assert.equal(typeof garbage[0]?.resultScore, 'string');
  });

  it('verifies and records a deep linking response', async () => {
    const launched = await platform.launch({ messageType: 'LtiDeepLinkingRequest', roles: 'instructor' });
    assert.equal(launched.stage, 'launched');
    const settings = launched.idTokenClaims[CLAIM.deepLinkingSettings] as { deep_link_return_url: string; data: string };
    const now = Math.floor(Date.now() / 1000);
    const response = {
      iss: platform.clientId, aud: platform.issuer, iat: now, exp: now + 60, nonce: 'n-1',
      [CLAIM.messageType]: 'LtiDeepLinkingResponse', [CLAIM.version]: '1.3.0', [CLAIM.deploymentId]: platform.deploymentId,
      [CLAIM.deepLinkData]: settings.data, [CLAIM.deepLinkContentItems]: [{ type: 'ltiResourceLink', title: 'Live class' }],
    };
    const post = async (claims: JWTPayload) =>
      (await fetch(settings.deep_link_return_url, { method: 'POST', body: new URLSearchParams({ JWT: await tool.signAssertion(claims) }) })).status;
    assert.equal(await post(response), 200);
    assert.equal(await post({ ...response, [CLAIM.deepLinkData]: 'forged' }), 400);
    assert.deepEqual(platform.deepLinkResponses().map((r) => [r.ok, r.contentItems.length]), [[true, 1], [false, 0]]);
  });

  it('registers a tool dynamically and launches it with the new client id', async () => {
    const before = platform.clientId;
    const { response, registration, record } = await platform.startDynamicRegistration(`${tool.url}/register`);
    assert.equal(response.status, 200, response.body);
    assert.equal(registration?.initiate_login_uri, `${tool.url}/login`);
    assert.notEqual(platform.clientId, before);
    assert.equal(record?.clientId, platform.clientId);
    assert.equal(platform.deploymentId, record?.deploymentId);
    assert.equal((await platform.launch()).response.status, 200);
    const again = await fetch(platform.registrationEndpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(again.status, 401, 'a registration without a token once tokens are in use');
  });

  it('serves a course page that frames the tool login with lti_storage_target', async () => {
    const html = await (await fetch(platform.coursePageUrl({ roles: 'learner' }))).text();
    const src = /<iframe id="lti-tool-frame"[^>]*src="([^"]+)"/.exec(html)?.[1]?.replaceAll('&#38;', '&');
    if (src === undefined) return assert.fail(`no tool frame in ${html}`);
    assert.ok(src.startsWith(`${tool.url}/login?`));
    assert.equal(new URL(src).searchParams.get('lti_storage_target'), '_parent');
    assert.match(html, /lti\.capabilities\.response/);
  });

  it('answers 503 for its JWKS when set down', async () => {
    platform.setJwksDown(true);
    assert.equal((await fetch(platform.jwksUrl)).status, 503);
    platform.setJwksDown(false);
    assert.equal((await fetch(platform.jwksUrl)).status, 200);
  });
});
