// Where each endpoint lives and how identifiers look, per LMS flavor: the simulator copies the real
// URL shapes (Moodle's mod/lti/*.php, Canvas's /api/lti/*) so a tool's URL handling is exercised too,
// e.g. Moodle's line item URLs carry a `?type_id=` query that `/results` must be inserted before.
import { createHash, createHmac, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Flavor, LaunchContext, LaunchResourceLink, LaunchUser } from './types.ts';

export interface Layout {
  auth: string;
  token: string;
  jwks: string;
  openidConfiguration: string;
  registration: string;
  deepLinkReturn: string;
  /** Express patterns; `:course` is the LMS's numeric course id, `:item` a line item number. */
  memberships: string;
  lineItems: string;
  lineItem: string;
  /** Query every service URL carries (Moodle: `?type_id=N`). */
  serviceQuery(deploymentId: string): string;
  returnUrl(course: number, resourceLinkId: string): string;
  deepLinkReturnUrl(course: number): string;
  sessionCookie: string;
}

const moodle: Layout = {
  auth: '/mod/lti/auth.php',
  token: '/mod/lti/token.php',
  jwks: '/mod/lti/certs.php',
  openidConfiguration: '/mod/lti/openid-configuration.php',
  registration: '/mod/lti/openid-registration.php',
  deepLinkReturn: '/mod/lti/contentitem_return.php',
  memberships: '/mod/lti/services.php/CourseSection/:course/bindings/:binding/memberships',
  lineItems: '/mod/lti/services.php/:course/lineitems',
  lineItem: '/mod/lti/services.php/:course/lineitems/:item/lineitem',
  serviceQuery: (deploymentId) => `?type_id=${encodeURIComponent(deploymentId)}`,
  returnUrl: (course, rl) => `/mod/lti/return.php?course=${course}&launch_container=3&instanceid=${encodeURIComponent(rl)}&sesskey=${randomBytes(5).toString('hex')}`,
  deepLinkReturnUrl: (course) => `/mod/lti/contentitem_return.php?course=${course}&id=1&sesskey=${randomBytes(5).toString('hex')}`,
  sessionCookie: 'MoodleSession',
};

const canvas: Layout = {
  auth: '/api/lti/authorize_redirect',
  token: '/login/oauth2/token',
  jwks: '/api/lti/security/jwks',
  openidConfiguration: '/api/lti/security/openid-configuration',
  registration: '/api/lti/registrations',
  deepLinkReturn: '/courses/:course/deep_linking_response',
  memberships: '/api/lti/courses/:course/names_and_roles',
  lineItems: '/api/lti/courses/:course/line_items',
  lineItem: '/api/lti/courses/:course/line_items/:item',
  serviceQuery: () => '',
  returnUrl: (course) => `/courses/${course}/external_content/success/external_tool_redirect`,
  deepLinkReturnUrl: (course) => `/courses/${course}/deep_linking_response?modal=true`,
  sessionCookie: 'canvas_session',
};

export function layoutFor(flavor: Flavor): Layout {
  return flavor === 'moodle' ? moodle : canvas;
}

/** Fills `:name` segments of an express pattern. */
export function fillPath(pattern: string, params: Record<string, string | number>): string {
  return pattern.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new TypeError(`no value for :${name} in ${pattern}`);
    return encodeURIComponent(String(value));
  });
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** Moodle: 15 alphanumerics ('rObczhWwz4ae23E'); Canvas: a developer key id ('10000000000001'). */
export function newClientId(flavor: Flavor): string {
  return flavor === 'moodle' ? randomAlnum(15) : `1000000000${String(randomInt(1, 10_000)).padStart(4, '0')}`;
}

/** Moodle: the tool type id ('3'); Canvas: '<install id>:<context hash>'. */
export function newDeploymentId(flavor: Flavor): string {
  return flavor === 'moodle' ? String(randomInt(2, 100)) : `${randomInt(1, 500)}:${sha1(randomUUID())}`;
}

export interface FlavorDefaults {
  name: string;
  version: string;
  user: Required<LaunchUser>;
  context: Required<LaunchContext>;
  resourceLink: Required<LaunchResourceLink>;
  locale: string;
}

export function defaultsFor(flavor: Flavor): FlavorDefaults {
  if (flavor === 'moodle') {
    return {
      name: 'Moodle Sandbox',
      version: '2024100700',
      user: { id: '3', name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.edu', locale: 'en', username: 'ada' },
      context: { id: '2', title: 'Live Classroom 101', label: 'LC101' },
      resourceLink: { id: '5', title: 'Weekly live class', description: '' },
      locale: 'en',
    };
  }
  return {
    name: 'Canvas Test',
    version: 'cloud',
    user: {
      id: '82c59950-9ec3-4ae9-ad32-208c158143e0', name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace',
      email: 'ada@example.edu', locale: 'en', username: 'ada',
    },
    context: { id: sha1('course-1'), title: 'Live Classroom 101', label: 'LC101' },
    resourceLink: { id: '7f956bcc-8f67-4d07-8ae4-64862ce83596', title: 'Weekly live class', description: '' },
    locale: 'en',
  };
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** lti_message_hint as each LMS makes it: Moodle a small JSON, Canvas an HS256 JWT (opaque to the tool). */
export function newMessageHint(flavor: Flavor, secret: Buffer, details: { course?: number; locale: string }): string {
  if (flavor === 'moodle') {
    return JSON.stringify({ cmid: randomInt(1, 1000), launchid: `ltilaunch${randomInt(1, 100)}_${randomInt(1e8, 1e9)}` });
  }
  const head = base64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
  const body = base64url(JSON.stringify({
    verifier: randomBytes(32).toString('hex'),
    canvas_domain: 'canvas.instructure.com',
    context_type: 'Course',
    context_id: details.course ?? null,
    canvas_locale: details.locale,
    include_storage_target: true,
    exp: Math.floor(Date.now() / 1000) + 300,
  }));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}
