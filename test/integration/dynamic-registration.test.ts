// LTI Dynamic Registration at /lti/register, from Moodle- and Canvas-shaped platforms: the platform
// is stored awaiting activation (with the deployment id when the LMS sends one), launches are refused
// until `npm run platform -- activate`, and bad requests store nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger.ts';
import { Service } from '../../server/service.ts';
import { runCli } from '../helpers/cli.ts';
import { Platform, UserAgent } from '../helpers/platform/index.ts';
import { freePort } from '../helpers/ports.ts';

const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration';

async function startService(dataDir: string, extra: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  const settings = parseSettings({
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'silent',
    ...extra,
  });
  return Service.start(settings, createLogger('silent'));
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

  it('refuses bad registration requests with a page naming the problem, and stores nothing', async () => {
    service = await startService(dataDir);
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
      const cases: Array<[Record<string, string>, number, RegExp]> = [
        [{}, 400, /openid_configuration parameter/],
        [{ openid_configuration: 'not a url' }, 400, /not an http\(s\) URL/],
        [{ openid_configuration: `http://127.0.0.1:${closed}/config` }, 502, /could not be fetched: ECONNREFUSED/],
        [{ openid_configuration: `${service.url}/healthz` }, 502, /is not usable: issuer is missing/],
        [{ openid_configuration: `${service.url}/nothing-here` }, 502, /answered HTTP 404/],
        [{ openid_configuration: `${platform.baseUrl}/mod/lti/certs.php` }, 502, /is not usable: issuer is missing/],
        [{ openid_configuration: canvas.openIdConfigurationUrl, registration_token: 't' }, 400, /names the issuer https:\/\/canvas\.instructure\.com, which is not on http:\/\/127\.0\.0\.1:/],
        [{ openid_configuration: platform.openIdConfigurationUrl, registration_token: 'not-issued' }, 502, /The registration endpoint answered HTTP 401 \(invalid_token/],
      ];
      for (const [query, status, message] of cases) {
        const response = await open(query);
        assert.equal(response.status, status, `${JSON.stringify(query)}: ${response.body}`);
        assert.match(response.body, message, JSON.stringify(query));
      }
      assert.deepEqual(await service.lti.platforms.list(), []);
    } finally {
      await canvas.close();
    }
  });
});
