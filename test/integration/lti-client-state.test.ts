// The server side of cookie-less launches (lti/client-state.ts), step by step over HTTP: what a
// browser that runs the pages' script would do, and what a forger would try instead.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../../server/service.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import type { Platform } from '../helpers/platform/index.ts';
import { parseForms } from '../helpers/platform/user-agent.ts';

const attribute = (html: string, name: string) => {
  const match = new RegExp(`${name}="([^"]*)"`).exec(html);
  assert.ok(match, `no ${name} in the page`);
  return match[1]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
};

async function post(url: string, fields: Record<string, string>) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields), redirect: 'manual' });
  return { status: response.status, body: await response.text() };
}

describe('launches without cookies', () => {
  let classroom: Classroom;
  let service: Service;
  let platform: Platform;
  before(async () => {
    classroom = await startClassroom('moodle');
    ({ service, platform } = classroom);
  });
  after(() => classroom?.close());

  /** Login with lti_storage_target, then the platform's auth answer; the id_token form is returned unposted. */
  const storageLogin = async (user: string) => {
    const login = await platform.launch({ storageTarget: '_parent', roles: 'learner', user: { id: user } });
    assert.equal(login.stage, 'login', 'the login answers a page instead of redirecting');
    const page = login.response;
    assert.equal(page.status, 200);
    assert.match(page.body, /data-mode="store"/);
    const key = attribute(page.body, 'data-key');
    const secret = attribute(page.body, 'data-value');
    const authUrl = attribute(page.body, 'data-auth-url');
    assert.equal(attribute(page.body, 'data-origin'), new URL(authUrl).origin);
    // The script has stored the secret in the platform; the browser goes on to the auth endpoint.
    const auth = await login.userAgent.navigate(authUrl);
    const [form] = parseForms(auth.body, auth.url);
    assert.ok(form?.fields.id_token, auth.body);
    assert.equal(key, `state_${form.fields.state}`);
    return { form, secret };
  };

  it('completes a launch whose state comes back from platform storage, once', async () => {
    const { form, secret } = await storageLogin('storage-1');
    // The platform's post arrives without the state cookie (the browser blocked it).
    const first = await post(form.action, form.fields);
    assert.equal(first.status, 200);
    assert.match(first.body, /data-mode="retrieve"/);
    const [relay] = parseForms(first.body, form.action);
    assert.equal(relay?.fields.id_token, form.fields.id_token);
    const launched = await post(relay!.action, { ...relay!.fields, lc_client_state: secret });
    assert.equal(launched.status, 200, launched.body);
    assert.ok(service.seats.verify(/seat-token="([^"]+)"/.exec(launched.body)![1]!));
    // The same proof again: the login is spent.
    const replay = await post(relay!.action, { ...relay!.fields, lc_client_state: secret });
    assert.equal(replay.status, 401);
  });

  it('refuses a launch that posts a value platform storage did not hold', async () => {
    const { form } = await storageLogin('storage-2');
    const forged = await post(form.action, { ...form.fields, lc_client_state: 'guessed-value-guessed-value' });
    assert.equal(forged.status, 401);
    assert.match(forged.body, /did not come from the login this browser started/);
  });

  it('checks cookies in a framed login without storage, and offers a new window when the cookie is missing at launch', async () => {
    const prepared = await platform.prepareLaunch({ roles: 'learner', user: { id: 'framed-1' } });
    // A framed login answers the cookie check page with a probe cookie.
    const params = new URLSearchParams({ iss: platform.registration().issuer, login_hint: 'x', target_link_uri: `${service.url}/lti/launch`, client_id: platform.registration().clientId });
    const framed = await fetch(`${service.url}/lti/login?${params}`, { headers: { 'sec-fetch-dest': 'iframe' }, redirect: 'manual' });
    assert.equal(framed.status, 200);
    assert.match(await framed.text(), /data-mode="cookie-check"/);
    assert.ok(framed.headers.getSetCookie().some((c) => c.startsWith('lc_cookie_check=1') && /SameSite=None/i.test(c) && /Secure/i.test(c)));
    // The platform's post without the browser's cookies: offer the launch in a new window.
    const blocked = await post(prepared.launchUrl, prepared.fields);
    assert.equal(blocked.status, 401);
    assert.match(blocked.body, /Open Live Classroom in a new window/);
    const link = new URL(attribute(blocked.body, 'href'), service.url);
    assert.equal(link.pathname, '/lti/login');
    assert.ok(link.searchParams.get('login_hint'), 'the new window starts over with the same login hint');
    assert.ok(link.searchParams.get('lti_message_hint'));
    assert.equal(link.searchParams.get('iss'), platform.registration().issuer);
    assert.equal(link.searchParams.get('target_link_uri'), `${service.url}/lti/launch`);
  });
});
