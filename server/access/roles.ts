// LMS roles -> the grant a role alone allows. Full URIs (LTI 1.3 context, institution and system
// roles), the deprecated short names, and LTI 1.1 URNs some platforms still send.

export type RoleGrant = 'host' | 'attendee' | 'denied';

const HOST_ROLES = new Set(['Instructor', 'TeachingAssistant', 'ContentDeveloper', 'Administrator']);
const ATTENDEE_ROLES = new Set(['Learner', 'Student']);
const ADMIN_ROLES = new Set(['Administrator', 'SysAdmin']);

export interface ParsedRole {
  scope: 'context' | 'institution' | 'system';
  name: string;
}

/**
 * `http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor` -> context Instructor;
 * `.../membership/Instructor#TeachingAssistant` -> context TeachingAssistant (a sub-role);
 * `.../institution/person#Administrator` -> institution Administrator; `Learner` -> context Learner.
 */
export function parseRole(claim: string): ParsedRole {
  const hash = claim.lastIndexOf('#');
  const name = (hash >= 0 ? claim.slice(hash + 1) : claim.slice(claim.lastIndexOf('/') + 1)).trim();
  if (/\/system\/person[#/]|^urn:lti:sysrole:/.test(claim)) return { scope: 'system', name: name.slice(name.lastIndexOf('/') + 1) };
  if (/\/institution\/person[#/]|^urn:lti:instrole:/.test(claim)) return { scope: 'institution', name: name.slice(name.lastIndexOf('/') + 1) };
  return { scope: 'context', name: name.slice(name.lastIndexOf('/') + 1) };
}

export interface RoleDecision {
  grant: RoleGrant;
  reason: string;
}

/**
 * LMS administrators are hosts everywhere. Otherwise the course (context) roles decide when the
 * launch carries any: a lecturer enrolled as a learner in a colleague's course is a learner there,
 * whatever their institution role. Without a context role, institution roles decide.
 */
export function roleGrant(claims: readonly string[] | undefined): RoleDecision {
  const roles = (claims ?? []).filter((c): c is string => typeof c === 'string').map(parseRole);
  if (roles.some((r) => r.scope !== 'context' && ADMIN_ROLES.has(r.name))) return { grant: 'host', reason: 'LMS administrator' };
  const context = roles.filter((r) => r.scope === 'context');
  const deciding = context.length > 0 ? context : roles.filter((r) => r.scope === 'institution');
  const host = deciding.find((r) => HOST_ROLES.has(r.name));
  if (host) return { grant: 'host', reason: `course staff (${host.name})` };
  if (deciding.some((r) => ATTENDEE_ROLES.has(r.name))) return { grant: 'attendee', reason: 'enrolled as a learner' };
  const named = deciding.map((r) => r.name).filter(Boolean);
  return {
    grant: 'denied',
    reason: named.length > 0 ? `role not allowed in live classes (${[...new Set(named)].join(', ')})` : 'no course role given by the LMS',
  };
}
