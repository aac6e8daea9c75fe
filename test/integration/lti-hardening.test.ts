// What a stranger can try at the LTI routes, in one tool: a login's nonce must come back in its
// id_token (on the cookie and the platform-storage paths), control characters and NULs are refused
// before storage, a failure inside ltijs is answered in neutral words, the LMS's key set is fetched
// once and kept, and an LMS probing the launch address is answered quietly.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSettings } from '../../config/index.ts';
import { LtiStore } from '../../lti/store.ts';
import { Service } from '../../server/service.ts';
import { introduce, launchAs } from '../helpers/classroom.ts';
import { captureLogs, LEVEL, type CapturedLogs } from '../helpers/logs.ts';
import { Platform, parseForms, UserAgent } from '../helpers/platform/index.ts';

const INTERNAL = /select |insert |delete from|lti_store|drizzle|at [\w.<>]+ \(|node_modules|\.ts:\d+|Failed query|params:/i;

const attribute = (html: string, name: string) => {
  const match = new RegExp(`${name}="([^"]*)"`).exec(html);
  assert.ok(match, `no ${name} in the page`);
  return match[1]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
};

async function post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields), redirect: 'manual' });
  return { status: response.status, body: await response.text() };
}

describe('LTI routes against a stranger', () => {
  let dataDir: string;
  let service: Service;
  let platform: Platform;
  let logs: CapturedLogs;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-lti-hardening-'));
    logs = captureLogs('debug');
    service = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug' }), logs.logger);
    platform = await Platform.start({ flavor: 'moodle' });
    await introduce(service, platform);
  });
  after(async () => {
    await platform?.close();
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses an id_token injected into another browser\'s login: its nonce is not the one that login sent', async () => {
    // The attacker's own launch, never posted; the victim's login, whose state cookie the victim's browser holds.
    const attackers = await platform.prepareLaunch({ roles: 'learner', user: { id: 'attacker' } });
    const victims = await platform.prepareLaunch({ roles: 'learner', user: { id: 'victim' } });
    assert.notEqual(attackers.idTokenClaims.nonce, victims.idTokenClaims.nonce);
    const injected = await platform.postLaunch(victims, { idToken: attackers.idToken });
    assert.equal(injected.response.status, 401, injected.response.body.slice(-500));
    assert.match(injected.response.body, /This launch could not be verified[\s\S]*does not match a sign-in started in this browser/);
    assert.doesNotMatch(injected.response.body, /seat-token/);
    // In its own login the attacker's id_token still launches: the check binds a token to its login.
    const own = await platform.postLaunch(attackers);
    assert.equal(own.response.status, 200, own.response.body.slice(-500));
  });

  it('takes an id_token only at the launch address, where its nonce is bound to its login', async () => {
    // A deep-linking id_token of someone else, posted with the attacker's own login to another LTI route.
    const prepared = await platform.prepareLaunch({ roles: 'instructor', user: { id: 'dl-victim' }, messageType: 'LtiDeepLinkingRequest' });
    for (const path of ['/lti/deep-link', '/lti/login']) {
      const response = await prepared.userAgent.navigate(`${service.url}${path}`, { method: 'POST', form: prepared.fields });
      assert.equal(response.status, 400, `${path}: ${response.body.slice(-300)}`);
      assert.match(response.body, /An LMS posts its id_token to the launch address only/);
      assert.doesNotMatch(response.body, /Add a live class|deep-link-form/);
    }
    // Any other address does not even read the form.
    const elsewhere = await prepared.userAgent.navigate(`${service.url}/lti/elsewhere`, { method: 'POST', form: prepared.fields });
    assert.equal(elsewhere.status, 401);
    assert.doesNotMatch(elsewhere.body, /Add a live class|deep-link-form/);
  });

  it('refuses a never-used nonce that is not its login\'s, with the page of a mismatched state', async () => {
    const result = await platform.launch({ roles: 'learner', user: { id: 'nonce-1' }, tamper: (c) => void (c.nonce = `never-seen-${randomUUID()}`) });
    assert.equal(result.response.status, 401);
    assert.match(result.response.body, /does not match a sign-in started in this browser[\s\S]*Open the activity again/);
  });

  it('binds the nonce on the platform-storage path too', async () => {
    const login = await platform.launch({ storageTarget: '_parent', roles: 'learner', user: { id: 'storage-nonce' }, tamper: (c) => void (c.nonce = `never-seen-${randomUUID()}`) });
    assert.equal(login.stage, 'login');
    const secret = attribute(login.response.body, 'data-value');
    const auth = await login.userAgent.navigate(attribute(login.response.body, 'data-auth-url'));
    const [form] = parseForms(auth.body, auth.url);
    assert.ok(form?.fields.id_token);
    // Without the state cookie (a browser blocking third-party cookies), with the proof from storage.
    const relayed = await post(form.action, form.fields);
    assert.match(relayed.body, /data-mode="retrieve"/);
    const [relay] = parseForms(relayed.body, form.action);
    const launched = await post(relay!.action, { ...relay!.fields, lc_client_state: secret });
    assert.equal(launched.status, 401, launched.body.slice(-500));
    assert.match(launched.body, /does not match a sign-in started in this browser/);
  });

  it('refuses control characters and NULs in the login before they reach storage, and never shows SQL', async () => {
    const good = platform.registration();
    const target = `${service.url}/lti/launch`;
    const cases: Array<Record<string, string>> = [
      { iss: `${good.issuer}\u0000`, login_hint: 'x', target_link_uri: target, client_id: good.clientId },
      { iss: good.issuer, login_hint: 'x\u0000y', target_link_uri: target, client_id: good.clientId },
      { iss: good.issuer, login_hint: 'x', target_link_uri: target, client_id: `${good.clientId}\u0007` },
      { iss: good.issuer, login_hint: 'x', target_link_uri: target, client_id: good.clientId, lti_message_hint: 'a\nb' },
      { iss: 'not a url', login_hint: 'x', target_link_uri: target },
      { iss: good.issuer, login_hint: 'x'.repeat(5000), target_link_uri: target },
      { iss: good.issuer, login_hint: 'x' },
    ];
    for (const params of cases) {
      for (const method of ['GET', 'POST'] as const) {
        const response =
          method === 'GET'
            ? await fetch(`${service.url}/lti/login?${new URLSearchParams(params)}`, { redirect: 'manual' })
            : await fetch(`${service.url}/lti/login`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params), redirect: 'manual' });
        const body = await response.text();
        assert.equal(response.status, 400, `${method} ${JSON.stringify(params)}: ${body.slice(-300)}`);
        assert.match(response.headers.get('content-type') ?? '', /text\/html/);
        assert.match(body, /This sign-in (could not be read|is incomplete)/);
        assert.doesNotMatch(body, INTERNAL);
      }
    }
    // A NUL inside a signed id_token's issuer: refused as a launch, no SQL in the page or the log.
    const result = await platform.launch({ roles: 'learner', user: { id: 'nul-iss' }, tamper: (c) => void (c.iss = `${good.issuer}\u0000`) });
    assert.equal(result.response.status, 401);
    assert.doesNotMatch(result.response.body, INTERNAL);
    assert.doesNotMatch(logs.text(), /Failed query|unsupported Unicode escape/);
  });

  it('reads LTI posts only as forms: none, JSON, text, multipart and repeated parameters get a page, not ltijs', async () => {
    const bodies: Array<{ headers: Record<string, string>; body?: string | FormData; status: number }> = [
      { headers: {}, status: 401 },
      { headers: { 'content-type': 'application/json' }, body: '{"state":"x","id_token":"y"}', status: 415 },
      { headers: { 'content-type': 'text/plain' }, body: 'state=x', status: 415 },
      { headers: {}, body: (() => { const f = new FormData(); f.set('state', 'x'); return f; })(), status: 415 },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'state=a&state=b&id_token=c', status: 400 },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'state=%00&id_token=c', status: 400 },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '__proto__=x&constructor=y', status: 401 },
    ];
    for (const path of ['/lti/launch', '/lti/login', '/lti/deep-link']) {
      for (const { headers, body, status } of bodies) {
        const response = await fetch(`${service.url}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body }), redirect: 'manual' });
        const text = await response.text();
        const label = `${path} ${headers['content-type'] ?? (body instanceof FormData ? 'multipart' : 'none')} ${typeof body === 'string' ? body : ''}`;
        assert.ok(response.status >= 400 && response.status < 500, `${label}: ${response.status}`);
        if (path === '/lti/launch') assert.equal(response.status, status, `${label}: ${text.slice(-300)}`);
        assert.match(response.headers.get('content-type') ?? '', /text\/html/, label);
        assert.doesNotMatch(text, INTERNAL, label);
      }
    }
    assert.deepEqual(logs.atLeast(LEVEL.error), [], 'bad input logged an error');
  });

  it('answers a failure inside ltijs in neutral words, logged, with no SQL in the page', async () => {
    // The database fails as it would with a query error: ltijs turns that into a 500 quoting the error.
    const original = LtiStore.prototype.Get;
    LtiStore.prototype.Get = async function () {
      throw new Error('Failed query: select "fields" from "lti_store" where ... params: platform,secret-client-id');
    };
    try {
      const params = new URLSearchParams({ iss: platform.registration().issuer, login_hint: 'x', target_link_uri: `${service.url}/lti/launch`, client_id: platform.registration().clientId });
      const response = await fetch(`${service.url}/lti/login?${params}`, { redirect: 'manual' });
      const body = await response.text();
      assert.equal(response.status, 500);
      assert.match(body, /Something went wrong on our side; it has been logged/);
      assert.doesNotMatch(body, INTERNAL);
      assert.doesNotMatch(body, /secret-client-id/);
      assert.ok(logs.atLeast(LEVEL.error).some((l) => /ltijs answered with a failure/.test(String(l.msg))), 'the failure is logged');
    } finally {
      LtiStore.prototype.Get = original;
    }
    logs.lines.length = 0;
  });

  it('fetches the LMS key set once for many launches, again once when the LMS rotates its key, and launches on through a key-set outage', async () => {
    const before = platform.jwksFetches;
    for (let i = 0; i < 10; i++) assert.equal((await launchAs(platform, { roles: 'learner', user: { id: `keys-${i}` } })).status, 200);
    assert.ok(platform.jwksFetches - before <= 1, `${platform.jwksFetches - before} key-set fetches for 10 launches`);
    const beforeRotation = platform.jwksFetches;
    await platform.rotateKey(false);
    assert.equal((await launchAs(platform, { roles: 'learner', user: { id: 'keys-rotated' } })).status, 200);
    assert.equal(platform.jwksFetches - beforeRotation, 1, 'the rotated key was not fetched exactly once');
    platform.setJwksDown(true);
    try {
      assert.equal((await launchAs(platform, { roles: 'learner', user: { id: 'keys-outage' } })).status, 200);
    } finally {
      platform.setJwksDown(false);
    }
  });

  it('answers an LMS fetching the launch address (Moodle checking for a cartridge) quietly', async () => {
    logs.lines.length = 0;
    const response = await new UserAgent().navigate(`${service.url}/lti/launch`);
    assert.equal(response.status, 200);
    assert.match(response.body, /Open the live class from your course page/);
    assert.deepEqual(logs.atLeast(LEVEL.warn), [], 'the probe was logged as a problem');
  });
});
