// LMS roles -> what a launch may do. Full URIs (LTI 1.3 context, institution, system roles) and
// the short forms some platforms send. The access issue refines this (speakers, paid rooms).
export type LaunchRole = 'host' | 'attendee' | 'denied';

const HOST_ROLES = new Set(['Instructor', 'TeachingAssistant', 'ContentDeveloper', 'Administrator']);

/** The role name of a claim: `http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor` -> `Instructor`. */
export function roleName(claim: string): string {
  const afterHash = claim.includes('#') ? claim.slice(claim.lastIndexOf('#') + 1) : claim;
  // Sub-roles (membership/Instructor#TeachingAssistant) are named after their hash already.
  return afterHash.slice(afterHash.lastIndexOf('/') + 1);
}

export function launchRole(claims: readonly string[] | undefined): LaunchRole {
  const names = (claims ?? []).map(roleName);
  if (names.some((n) => HOST_ROLES.has(n))) return 'host';
  if (names.includes('Learner') || names.includes('Student')) return 'attendee';
  return 'denied';
}
