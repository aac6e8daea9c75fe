// Where each LMS keeps its LTI 1.3 endpoints, so an administrator types only what differs per site.
import type { PlatformRegistration } from './provider.ts';

export type PresetName = 'moodle' | 'canvas' | 'canvas-beta' | 'canvas-test';
export const PRESET_NAMES: readonly PresetName[] = ['moodle', 'canvas', 'canvas-beta', 'canvas-test'];

/** A preset that cannot be filled in: the message names the flag. */
export class PresetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PresetError';
  }
}

type Endpoints = Omit<PlatformRegistration, 'clientId'>;

/** A site URL without query, fragment or trailing slash; undefined if it is not an http(s) URL. */
export function siteUrl(raw: string): string | undefined {
  if (!URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  if (!['http:', 'https:'].includes(url.protocol) || url.search !== '' || url.hash !== '') return undefined;
  return url.toString().replace(/\/+$/, '');
}

// Moodle (mod/lti): the issuer is the site's wwwroot; the endpoints are the mod/lti scripts that
// Moodle shows under "Tool configuration details" of an LTI 1.3 tool.
function moodle(url: string | undefined): Endpoints {
  if (url === undefined) throw new PresetError('--preset moodle needs --url, the Moodle site address (e.g. https://moodle.example.edu)');
  return {
    name: `Moodle ${new URL(url).host}`,
    issuer: url,
    authUrl: `${url}/mod/lti/auth.php`,
    tokenUrl: `${url}/mod/lti/token.php`,
    jwksUrl: `${url}/mod/lti/certs.php`,
  };
}

// Canvas: Instructure-hosted Canvas uses one issuer per environment, whatever the school's domain,
// and serves the OIDC, token and key endpoints from sso.canvaslms.com (sso.beta/sso.test for the
// beta and test environments). Source: Instructure's "Manually Configuring LTI Advantage Tools"
// (https://developerdocs.instructure.com/services/canvas/external-tools/lti/file.lti_dev_key_config:
// "Canvas Public JWKs ... Production: https://sso.canvaslms.com/api/lti/security/jwks"; the domain
// used to be canvas.instructure.com) and its list of issuers (canvas.instructure.com,
// canvas.beta.instructure.com, canvas.test.instructure.com).
// With --url (a self-hosted Canvas, or to reach one environment through the school's own domain)
// the endpoints are that site's /api/lti/authorize_redirect, /login/oauth2/token and
// /api/lti/security/jwks; the issuer stays the preset's (a self-hosted Canvas sends the `lti_iss` of
// its config/security.yml, https://canvas.instructure.com unless changed): --issuer overrides it.
function canvas(environment: '' | 'beta.' | 'test.', url: string | undefined): Endpoints {
  const site = url ?? `https://sso.${environment}canvaslms.com`;
  return {
    name: environment === '' ? 'Canvas' : `Canvas ${environment.slice(0, -1)}`,
    issuer: `https://canvas.${environment}instructure.com`,
    authUrl: `${site}/api/lti/authorize_redirect`,
    tokenUrl: `${site}/login/oauth2/token`,
    jwksUrl: `${site}/api/lti/security/jwks`,
  };
}

/** The preset's values; `url` is an already checked site URL (see siteUrl). */
export function presetValues(preset: PresetName, url: string | undefined): Endpoints {
  switch (preset) {
    case 'moodle':
      return moodle(url);
    case 'canvas':
      return canvas('', url);
    case 'canvas-beta':
      return canvas('beta.', url);
    case 'canvas-test':
      return canvas('test.', url);
    default: {
      const unknown: never = preset;
      throw new PresetError(`unknown preset ${String(unknown)}`);
    }
  }
}
