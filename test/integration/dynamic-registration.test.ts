// LTI Dynamic Registration at /lti/register, from Moodle- and Canvas-shaped platforms: the platform
// is stored awaiting activation (with the deployment id when the LMS sends one), launches are refused
// until `npm run platform -- activate`, and bad requests store nothing. The route fetches what a
// stranger names, so it reaches only public addresses unless LTI_REGISTRATION_PRIVATE_HOSTS names
// the host, says the same few words whatever went wrong (the detail goes to the log), and is
// rate-limited. The simulated platforms run on 127.0.0.1, which the tests allow by name.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { MAX_PENDING_REGISTRATIONS, REGISTRATION_RATE } from '../../lti/registration.ts';
import { Service } from '../../server/service.ts';
import { runCli } from '../helpers/cli.ts';
import { captureLogs, LEVEL, type CapturedLogs } from '../helpers/logs.ts';
import { Platform, UserAgent } from '../helpers/platform/index.ts';
import { freePort } from '../helpers/ports.ts';

const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration';

async function startService(dataDir: string, extra: Record<string, string> = {}, logs?: CapturedLogs): Promise<Service> {
  const port = await freePort();
  const settings = parseSettings({
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'silent',
    LTI_REGISTRATION_PRIVATE_HOSTS: '127.0.0.1',
    ...extra,
  });
  return Service.start(settings, logs?.logger ?? createLogger('silent'));
}

/** An HTTP server on 127.0.0.1 that counts what reaches it and answers with `handle`. */
async function countingServer(handle: (req: IncomingMessage, res: ServerResponse, base: string) => void = (_req, res) => res.end('{}')) {
  let hits = 0;
  let base = '';
  const server: Server = createServer((req, res) => {
    hits++;
    handle(req, res, base);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    get hits() {
      return hits;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const NEUTRAL = /Live Classroom could not complete the registration with this LMS\. An administrator of Live Classroom finds the reason in its log under reference ([0-9a-f]{12})\./;

/** The page's reference, and the log line it points to. */
function referenced(logs: CapturedLogs, body: string): Record<string, unknown> {
  const reference = NEUTRAL.exec(body)?.[1];
  assert.ok(reference, `not the neutral page: ${body.slice(-400)}`);
  const line = logs.lines.find((l) => l.reference === reference);
  assert.ok(line, `no log line with reference ${reference}`);
  return line;
}

async function launch(platform: Platform) {
  const result = await platform.launch({ roles: 'instructor', user: { id: 'teacher-1', name: 'Ada Teacher' } });
  return result.response;
}

describe('dynamic registration', () => {
  let dataDir: string;
  let service: Service | undefined;
  let platform: Platform | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-dynreg-'));
  });
  afterEach(async () => {
    await platform?.close();
    platform = undefined;
    await service?.stop();
    service = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const flavor of ['moodle', 'canvas'] as const) {
    it(`stores a ${flavor} platform awaiting activation; launches work once activated`, async () => {
      service = await startService(dataDir);
      const publicUrl = service.settings.publicUrl;
      // A Canvas-shaped platform whose issuer is its own site (a self-hosted Canvas): the issuer must
      // match the configuration URL's origin.
      platform = await Platform.start(flavor === 'canvas' ? { flavor, issuer: (base) => base } : { flavor });

      const { response, registration, record } = await platform.startDynamicRegistration(`${publicUrl}/lti/register`);
      assert.equal(response.status, 200, response.body);
      assert.match(response.body, /postMessage\(\{ subject: 'org\.imsglobal\.lti\.close' \}/);
      assert.match(response.body, /npm run platform -- activate --issuer/);
      assert.equal(record?.status, 200, String(record?.error));

      // What the tool asked for.
      assert.equal(registration?.client_name, 'Live Classroom');
      assert.equal(registration?.initiate_login_uri, `${publicUrl}/lti/login`);
      assert.equal(registration?.jwks_uri, `${publicUrl}/lti/keys`);
      assert.deepEqual(registration?.redirect_uris, [`${publicUrl}/lti/launch`]);
      assert.deepEqual(String(registration?.scope).split(' ').sort(), [
        'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
        'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
        'https://purl.imsglobal.org/spec/lti-ags/scope/score',
        'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
      ]);
      const configuration = registration?.[TOOL_CONFIGURATION] as { target_link_uri: string; claims: string[]; messages: Array<{ type: string; target_link_uri: string }> };
      assert.equal(configuration.target_link_uri, `${publicUrl}/lti/launch`);
      assert.deepEqual(configuration.claims, ['iss', 'sub', 'name', 'given_name', 'family_name', 'email']);
      assert.deepEqual(
        configuration.messages.map((m) => [m.type, m.target_link_uri]),
        [['LtiResourceLinkRequest', `${publicUrl}/lti/launch`], ['LtiDeepLinkingRequest', `${publicUrl}/lti/launch`]],
      );

      // What the tool stored: Moodle sends its deployment id, Canvas does not.
      const [stored] = await service.lti.platforms.list();
      assert.equal(stored?.issuer, platform.issuer);
      assert.equal(stored?.clientId, platform.clientId);
      assert.equal(stored?.authUrl, platform.authUrl);
      assert.equal(stored?.jwksUrl, platform.jwksUrl);
      assert.equal(stored?.active, false);
      assert.deepEqual(stored?.deploymentIds, flavor === 'moodle' ? [platform.deploymentId] : []);

      const refused = await launch(platform);
      assert.equal(refused.status, 401);
      assert.match(refused.body, /awaiting activation/);

      const env = { DATA_DIR: dataDir };
      const listed = await runCli(['list'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, flavor === 'moodle' ? /\tawaiting activation\n/ : /\tawaiting activation \(needs --deployment-id\)\n/);

      const key = ['--issuer', platform.issuer, '--client-id', platform.clientId];
      if (flavor === 'canvas') {
        const withoutDeployment = await runCli(['activate', ...key], env);
        assert.equal(withoutDeployment.code, 1);
        assert.match(withoutDeployment.stderr, /has no deployment id yet: give the one the LMS shows .* with --deployment-id/);
        assert.equal((await service.lti.platforms.list())[0]?.active, false);
      }
      const activated = await runCli(['activate', ...key, ...(flavor === 'canvas' ? ['--deployment-id', platform.deploymentId] : [])], env);
      assert.equal(activated.code, 0, activated.stderr);
      assert.match(activated.stderr, /via the running tool at http:\/\/127\.0\.0\.1:/);
      assert.match(activated.stdout, new RegExp(`^activated\\t.*\\tdeployments ${platform.deploymentId}\\tactive\\n$`));

      const launched = await launch(platform);
      assert.equal(launched.status, 200, launched.body);
      assert.match(launched.body, /seat-token="/);
    });
  }

  it('activates at once with LTI_AUTO_ACTIVATE=true', async () => {
    service = await startService(dataDir, { LTI_AUTO_ACTIVATE: 'true' });
    platform = await Platform.start({ flavor: 'moodle' });
    const { response } = await platform.startDynamicRegistration(`${service.settings.publicUrl}/lti/register`);
    assert.equal(response.status, 200, response.body);
    assert.match(response.body, /Launches from this LMS work now/);
    assert.equal((await service.lti.platforms.list())[0]?.active, true);
    assert.equal((await launch(platform)).status, 200);
  });

  it("refuses bad registration requests: the request's own faults named, every failure at the LMS in the same words (the detail in the log), and stores nothing", async () => {
    const logs = captureLogs('info');
    service = await startService(dataDir, {}, logs);
    const register = `${service.settings.publicUrl}/lti/register`;
    const closed = await freePort();
    const canvas = await Platform.start({ flavor: 'canvas' }); // issuer https://canvas.instructure.com, served from 127.0.0.1
    platform = await Platform.start({ flavor: 'moodle' });
    try {
      const open = async (query: Record<string, string>) => {
        const response = await new UserAgent().navigate(`${register}?${new URLSearchParams(query)}`);
        assert.match(response.headers['content-type'] ?? '', /text\/html/);
        return response;
      };
      for (const [query, message] of [
        [{}, /openid_configuration parameter/],
        [{ openid_configuration: 'not a url' }, /not an http\(s\) URL/],
        [{ openid_configuration: 'file:///etc/passwd' }, /not an http\(s\) URL/],
      ] as const) {
        const response = await open(query);
        assert.equal(response.status, 400, `${JSON.stringify(query)}: ${response.body}`);
        assert.match(response.body, message, JSON.stringify(query));
      }
      const atTheLms: Array<[Record<string, string>, RegExp]> = [
        [{ openid_configuration: `http://127.0.0.1:${closed}/config` }, /could not be fetched: ECONNREFUSED/],
        [{ openid_configuration: `${service.url}/healthz` }, /is not usable: issuer is missing/],
        [{ openid_configuration: `${service.url}/nothing-here` }, /answered HTTP 404/],
        [{ openid_configuration: `${platform.baseUrl}/mod/lti/certs.php` }, /is not usable: issuer is missing/],
        [{ openid_configuration: canvas.openIdConfigurationUrl, registration_token: 't' }, /names the issuer https:\/\/canvas\.instructure\.com, which is not on http:\/\/127\.0\.0\.1:/],
        [{ openid_configuration: platform.openIdConfigurationUrl, registration_token: 'not-issued' }, /The registration endpoint answered HTTP 401 \(invalid_token/],
      ];
      const pages = new Set<string>();
      for (const [query, detail] of atTheLms) {
        const response = await open(query);
        assert.equal(response.status, 502, `${JSON.stringify(query)}: ${response.body}`);
        assert.match(String(referenced(logs, response.body).detail), detail, JSON.stringify(query));
        pages.add(response.body.replace(/[0-9a-f]{12}/g, 'REF'));
      }
      assert.equal(pages.size, 1, 'every failure at the LMS gets the same page (but for its reference)');
      assert.deepEqual(await service.lti.platforms.list(), []);
      assert.deepEqual(logs.atLeast(LEVEL.error), [], 'a bad registration logged an error');
    } finally {
      await canvas.close();
    }
  });

  it('never reaches loopback, private, link-local, multicast or unspecified addresses unless the host is allowed by name', async () => {
    const logs = captureLogs('info');
    service = await startService(dataDir, { LTI_REGISTRATION_PRIVATE_HOSTS: '' }, logs);
    const target = await countingServer();
    try {
      const p = target.port;
      const addresses = [
        `http://127.0.0.1:${p}/config`,
        `http://localhost:${p}/config`,
        `http://[::1]:${p}/config`,
        `http://[::ffff:127.0.0.1]:${p}/config`,
        `http://2130706433:${p}/config`, // 127.0.0.1 written as one number
        `http://0x7f.1:${p}/config`,
        `http://0.0.0.0:${p}/config`,
        'http://169.254.169.254/latest/meta-data/',
        'http://[fd00:ec2::254]/latest/meta-data/',
        'http://10.0.0.1/config',
        'http://172.16.5.4/config',
        'http://192.168.1.1/config',
        'http://100.64.0.1/config',
        'http://[fe80::1]/config',
        'http://[fc00::1]/config',
        'http://[64:ff9b::a00:1]/config', // NAT64 of 10.0.0.1
        'http://224.0.0.1/config',
        'http://[ff02::1]/config',
      ];
      for (const [i, address] of addresses.entries()) {
        // From many clients (through the local proxy the tool trusts), so the rate limit does not answer first.
        const answer = await fetch(`${service.settings.publicUrl}/lti/register?${new URLSearchParams({ openid_configuration: address })}`, { headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } });
        const response = { status: answer.status, body: await answer.text() };
        assert.equal(response.status, 502, `${address}: ${response.body}`);
        const line = referenced(logs, response.body);
        assert.match(String(line.detail), /resolves to .*(never reached|loopback, private or link-local)/, `${address}: ${String(line.detail)}`);
      }
      assert.equal(target.hits, 0, 'a refused address was reached');
      assert.deepEqual(await service.lti.platforms.list(), []);
    } finally {
      await target.close();
    }
  });

  it('checks every redirect and the registration endpoint again: an allowed host cannot lead to one that is not', async () => {
    const logs = captureLogs('info');
    service = await startService(dataDir, { LTI_REGISTRATION_PRIVATE_HOSTS: '127.0.0.1' }, logs);
    const hidden = await countingServer(); // reached only as "localhost", which is not allowed
    const entry = await countingServer((req, res, base) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://localhost:${hidden.port}/config` }).end();
        return;
      }
      // A configuration whose registration endpoint points elsewhere.
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: base, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks`, registration_endpoint: `http://localhost:${hidden.port}/register` }));
    });
    try {
      for (const path of ['/redirect', '/config']) {
        const response = await new UserAgent().navigate(`${service.settings.publicUrl}/lti/register?${new URLSearchParams({ openid_configuration: `${entry.base}${path}` })}`);
        assert.equal(response.status, 502, response.body);
        assert.match(String(referenced(logs, response.body).detail), /localhost resolves to .* \(not in LTI_REGISTRATION_PRIVATE_HOSTS\)/);
      }
      assert.equal(entry.hits, 2);
      assert.equal(hidden.hits, 0, 'the redirect or the registration endpoint reached a host that is not allowed');
    } finally {
      await entry.close();
      await hidden.close();
    }
  });

  it('takes a configuration only from the issuer\'s own origin, endpoints that may be reached, and never changes a registered platform', async () => {
    const logs = captureLogs('info');
    const tool = await startService(dataDir, { LTI_REGISTRATION_PRIVATE_HOSTS: '127.0.0.1' }, logs);
    service = tool;
    const configOf = (issuer: string, endpoints: Partial<Record<'auth' | 'token' | 'jwks' | 'register', string>> = {}) =>
      JSON.stringify({
        issuer,
        authorization_endpoint: endpoints.auth ?? `${issuer}/auth`,
        token_endpoint: endpoints.token ?? `${issuer}/token`,
        jwks_uri: endpoints.jwks ?? `${issuer}/jwks`,
        registration_endpoint: endpoints.register ?? `${issuer}/register`,
      });
    // Another site (another origin) answers for the issuer after a redirect from the issuer's site.
    let other = '';
    const issuerSite = await countingServer((req, res, base) => {
      if (req.url === '/redirected') return void res.writeHead(302, { location: `${other}/config` }).end();
      res.setHeader('content-type', 'application/json');
      if (req.url === '/metadata-jwks') return void res.end(configOf(base, { jwks: 'http://169.254.169.254/latest/keys' }));
      res.end(configOf(base));
    });
    const otherSite = await countingServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(configOf(issuerSite.base));
    });
    other = otherSite.base;
    try {
      const register = (configuration: string) => fetch(`${tool.settings.publicUrl}/lti/register?${new URLSearchParams({ openid_configuration: configuration })}`);
      const redirected = await register(`${issuerSite.base}/redirected`);
      assert.equal(redirected.status, 502);
      assert.match(String(referenced(logs, await redirected.text()).detail), /answered by http:\/\/127\.0\.0\.1:\d+\/config\) names the issuer .* which is not on/);
      const metadata = await register(`${issuerSite.base}/metadata-jwks`);
      assert.equal(metadata.status, 502);
      assert.match(String(referenced(logs, await metadata.text()).detail), /names http:\/\/169\.254\.169\.254\/latest\/keys, which Live Classroom will not call: .*link-local/);
      assert.deepEqual(await tool.lti.platforms.list(), []);
    } finally {
      await issuerSite.close();
      await otherSite.close();
    }

    // A platform an administrator registered and activated: a registration that answers its client
    // id (its registration endpoint in someone else's hands, say) changes nothing of it.
    const lms = await countingServer((req, res, base) => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') return void res.end(JSON.stringify({ client_id: 'admin-registered' }));
      res.end(configOf(base, { jwks: `${base}/rogue-keys` }));
    });
    try {
      const existing = { name: 'Campus Moodle', issuer: lms.base, clientId: 'admin-registered', authUrl: `${lms.base}/auth`, tokenUrl: `${lms.base}/token`, jwksUrl: `${lms.base}/jwks` };
      await tool.lti.platforms.add(existing, ['deployment-1']);
      const before = await tool.lti.platforms.get(lms.base, 'admin-registered');
      const again = await fetch(`${tool.settings.publicUrl}/lti/register?${new URLSearchParams({ openid_configuration: `${lms.base}/config` })}`);
      assert.equal(again.status, 502);
      assert.match(String(referenced(logs, await again.text()).detail), /client id admin-registered of .* is already registered; a registration does not change it/);
      assert.deepEqual(await tool.lti.platforms.get(lms.base, 'admin-registered'), before);
      assert.equal(before?.jwksUrl, `${lms.base}/jwks`);
    } finally {
      await lms.close();
    }
  });

  it('refuses an oversized configuration document', async () => {
    const logs = captureLogs('info');
    service = await startService(dataDir, {}, logs);
    const big = await countingServer((_req, res, base) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: base, padding: 'x'.repeat(200 * 1024) }));
    });
    try {
      const response = await new UserAgent().navigate(`${service.settings.publicUrl}/lti/register?${new URLSearchParams({ openid_configuration: `${big.base}/config` })}`);
      assert.equal(response.status, 502);
      assert.match(String(referenced(logs, response.body).detail), /larger than 65536 bytes/);
    } finally {
      await big.close();
    }
  });

  it(`takes at most ${REGISTRATION_RATE.count} registrations per client address in ${REGISTRATION_RATE.windowMs / 60_000} minutes`, async () => {
    service = await startService(dataDir);
    const closed = await freePort();
    const url = `${service.settings.publicUrl}/lti/register?${new URLSearchParams({ openid_configuration: `http://127.0.0.1:${closed}/config` })}`;
    for (let i = 0; i < REGISTRATION_RATE.count; i++) assert.equal((await new UserAgent().navigate(url)).status, 502);
    const limited = await new UserAgent().navigate(url);
    assert.equal(limited.status, 429, limited.body);
    assert.match(limited.headers['retry-after'] ?? '', /^\d+$/);
    assert.match(limited.body, /Too many registrations/);
  });

  it(`takes no new registration while ${MAX_PENDING_REGISTRATIONS} await activation`, async () => {
    service = await startService(dataDir);
    // As ltijs stores platforms that registered themselves and wait (no key pair needed to be counted).
    for (let i = 0; i < MAX_PENDING_REGISTRATIONS; i++) {
      const kid = `pending-${i}`;
      const platformDoc = { platformUrl: `https://pending-${i}.example.edu`, clientId: `client-${i}`, platformName: `Pending ${i}`, kid, authEndpoint: 'https://x.example.edu/auth', accesstokenEndpoint: 'https://x.example.edu/token', authConfig: { method: 'JWK_SET', key: 'https://x.example.edu/jwks' } };
      await service.database!.rows(sql`insert into lti_store (collection, fields) values ('platform', ${JSON.stringify(platformDoc)}::jsonb), ('platformStatus', ${JSON.stringify({ id: kid, active: false })}::jsonb)`);
    }
    platform = await Platform.start({ flavor: 'moodle' });
    const { response } = await platform.startDynamicRegistration(`${service.settings.publicUrl}/lti/register`);
    assert.equal(response.status, 429, response.body);
    assert.match(response.body, /20 LMS registrations are waiting for an administrator/);
    assert.equal((await service.lti.platforms.list()).length, MAX_PENDING_REGISTRATIONS);
  });
});
