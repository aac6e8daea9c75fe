// id_token claims as Moodle and Canvas shape them (checked against real launches: Moodle's
// lti_get_jwt_claim_mapping and ext_* claims, Canvas's lti1p1/placement/system roles extras).
import { sha1 } from './layout.ts';
import type { Claims, Flavor, LaunchContext, LaunchResourceLink, LaunchUser, MessageType, RolePreset } from './types.ts';

export const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
export const CLAIM = {
  messageType: `${LTI}message_type`,
  version: `${LTI}version`,
  deploymentId: `${LTI}deployment_id`,
  targetLinkUri: `${LTI}target_link_uri`,
  resourceLink: `${LTI}resource_link`,
  roles: `${LTI}roles`,
  context: `${LTI}context`,
  toolPlatform: `${LTI}tool_platform`,
  launchPresentation: `${LTI}launch_presentation`,
  lis: `${LTI}lis`,
  custom: `${LTI}custom`,
  ext: `${LTI}ext`,
  lti1p1: `${LTI}lti1p1`,
  lti11LegacyUserId: `${LTI}lti11_legacy_user_id`,
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice',
  ags: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
  deepLinkingSettings: 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings',
  deepLinkData: 'https://purl.imsglobal.org/spec/lti-dl/claim/data',
  deepLinkContentItems: 'https://purl.imsglobal.org/spec/lti-dl/claim/content_items',
  canvasPlacement: 'https://www.instructure.com/placement',
} as const;

export const SCOPES = {
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
  lineItem: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  lineItemReadonly: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
  resultReadonly: 'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  score: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
} as const;
export const SUPPORTED_SCOPES: readonly string[] = Object.values(SCOPES);
const CANVAS_PROGRESS_SCOPE = 'https://canvas.instructure.com/lti-ags/progress/scope/show';

const V2 = 'http://purl.imsglobal.org/vocab/lis/v2/';
export const ROLES = {
  // Context (membership) roles.
  instructor: `${V2}membership#Instructor`,
  learner: `${V2}membership#Learner`,
  teachingAssistant: `${V2}membership/Instructor#TeachingAssistant`,
  contentDeveloper: `${V2}membership#ContentDeveloper`,
  administrator: `${V2}membership#Administrator`,
  mentor: `${V2}membership#Mentor`,
  // Institution roles.
  institutionAdministrator: `${V2}institution/person#Administrator`,
  institutionInstructor: `${V2}institution/person#Instructor`,
  institutionStudent: `${V2}institution/person#Student`,
  // System roles.
  systemAdministrator: `${V2}system/person#Administrator`,
  systemSysAdmin: `${V2}system/person#SysAdmin`,
  systemUser: `${V2}system/person#User`,
  /** Deprecated simple names a platform MAY still send for context roles. */
  short: {
    instructor: 'Instructor',
    learner: 'Learner',
    teachingAssistant: 'TeachingAssistant',
    contentDeveloper: 'ContentDeveloper',
    administrator: 'Administrator',
    mentor: 'Mentor',
  },
} as const;

/** The roles each LMS really sends for a course role (Canvas adds institution and system roles; its admins have no context role). */
export function rolesFor(flavor: Flavor, preset: RolePreset): string[] {
  if (flavor === 'moodle') {
    switch (preset) {
      case 'instructor': return [ROLES.instructor];
      case 'learner': return [ROLES.learner];
      case 'teachingAssistant': return [ROLES.teachingAssistant];
      case 'contentDeveloper': return [ROLES.contentDeveloper];
      case 'administrator': return [ROLES.institutionAdministrator, ROLES.instructor, ROLES.systemAdministrator];
      default: return assertNever(preset);
    }
  }
  switch (preset) {
    case 'instructor': return [ROLES.institutionInstructor, ROLES.instructor, ROLES.systemUser];
    case 'learner': return [ROLES.institutionStudent, ROLES.learner, ROLES.systemUser];
    case 'teachingAssistant': return [ROLES.teachingAssistant, ROLES.systemUser];
    case 'contentDeveloper': return [ROLES.contentDeveloper, ROLES.systemUser];
    case 'administrator': return [ROLES.institutionAdministrator, ROLES.systemSysAdmin, ROLES.systemUser];
    default: return assertNever(preset);
  }
}

function assertNever(value: never): never {
  throw new TypeError(`unknown role preset: ${String(value)}`);
}

export interface ClaimInput {
  flavor: Flavor;
  issuer: string;
  clientId: string;
  deploymentId: string;
  nonce: string;
  user: Required<LaunchUser>;
  roles: string[];
  /** With the URLs of its services; null for a launch without context. */
  context: (Required<LaunchContext> & { membershipsUrl: string; lineItemsUrl: string; lineItemUrl?: string }) | null;
  resourceLink: Required<LaunchResourceLink>;
  messageType: MessageType;
  targetLinkUri: string;
  locale: string;
  custom: Record<string, string>;
  platform: { name: string; version: string; guid: string };
  returnUrl: string;
  deepLink?: { returnUrl: string; data: string };
  placement?: string;
}

const COURSE_OFFERING = `${V2}course#CourseOffering`;

export function buildLaunchClaims(input: ClaimInput): Claims {
  const now = Math.floor(Date.now() / 1000);
  const { user, context, flavor } = input;
  const claims: Claims = {
    iss: input.issuer,
    aud: input.clientId,
    azp: input.clientId,
    sub: user.id,
    exp: now + 300,
    iat: now,
    nonce: input.nonce,
    name: user.name,
    given_name: user.givenName,
    family_name: user.familyName,
    email: user.email,
    locale: user.locale,
    [CLAIM.messageType]: input.messageType,
    [CLAIM.version]: '1.3.0',
    [CLAIM.deploymentId]: input.deploymentId,
    [CLAIM.targetLinkUri]: input.targetLinkUri,
    [CLAIM.roles]: input.roles,
    [CLAIM.custom]: input.custom,
  };
  if (input.messageType === 'LtiResourceLinkRequest') {
    claims[CLAIM.resourceLink] = { id: input.resourceLink.id, title: input.resourceLink.title, description: input.resourceLink.description };
  } else if (input.deepLink) {
    claims[CLAIM.deepLinkingSettings] = {
      deep_link_return_url: input.deepLink.returnUrl,
      accept_types: ['ltiResourceLink'],
      accept_presentation_document_targets: ['iframe', 'window'],
      accept_multiple: true,
      auto_create: true,
      data: input.deepLink.data,
    };
  }
  if (context) {
    claims[CLAIM.context] = { id: context.id, label: context.label, title: context.title, type: [COURSE_OFFERING] };
    claims[CLAIM.nrps] = {
      context_memberships_url: context.membershipsUrl,
      service_versions: flavor === 'moodle' ? ['1.0', '2.0'] : ['2.0'],
    };
    const ags: Record<string, unknown> = {
      scope: flavor === 'moodle'
        ? [SCOPES.lineItem, SCOPES.resultReadonly, SCOPES.score, SCOPES.lineItemReadonly]
        : [SCOPES.lineItem, SCOPES.lineItemReadonly, SCOPES.resultReadonly, SCOPES.score, CANVAS_PROGRESS_SCOPE],
      lineitems: context.lineItemsUrl,
    };
    if (context.lineItemUrl && input.messageType === 'LtiResourceLinkRequest') ags.lineitem = context.lineItemUrl;
    claims[CLAIM.ags] = ags;
  }
  claims[CLAIM.launchPresentation] = { locale: input.locale, document_target: 'iframe', return_url: input.returnUrl };
  return flavor === 'moodle' ? addMoodleExtras(claims, input) : addCanvasExtras(claims, input);
}

function addMoodleExtras(claims: Claims, input: ClaimInput): Claims {
  claims[CLAIM.lis] = { person_sourcedid: '', course_section_sourcedid: '' };
  claims[CLAIM.ext] = { user_username: input.user.username, lms: 'moodle-2' };
  claims[CLAIM.toolPlatform] = {
    product_family_code: 'moodle',
    version: input.platform.version,
    guid: input.platform.guid,
    name: input.platform.name,
    description: input.platform.name,
  };
  return claims;
}

function addCanvasExtras(claims: Claims, input: ClaimInput): Claims {
  const legacyUserId = sha1(`user:${input.user.id}`);
  claims.picture = 'https://canvas.instructure.com/images/messages/avatar-50.png';
  claims[CLAIM.lis] = { person_sourcedid: `sis_${input.user.id}`, course_offering_sourcedid: '$CourseSection.sourcedId' };
  claims[CLAIM.toolPlatform] = {
    guid: `${input.platform.guid}:canvas-lms`,
    name: input.platform.name,
    version: input.platform.version,
    product_family_code: 'canvas',
  };
  claims[CLAIM.lti11LegacyUserId] = legacyUserId;
  const lti1p1: Record<string, unknown> = { user_id: legacyUserId };
  if (input.messageType === 'LtiResourceLinkRequest') lti1p1.resource_link_id = sha1(`rl:${input.resourceLink.id}`);
  claims[CLAIM.lti1p1] = lti1p1;
  const presentation = claims[CLAIM.launchPresentation] as Record<string, unknown>;
  presentation.height = 400;
  presentation.width = 800;
  claims[CLAIM.canvasPlacement] = input.placement ?? null;
  return claims;
}

/** Canvas's login_hint is the user's legacy LTI id; Moodle's is the user id. */
export function loginHintFor(flavor: Flavor, userId: string): string {
  return flavor === 'moodle' ? userId : sha1(`user:${userId}`);
}
