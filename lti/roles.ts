// The launch's view of roles: the rules live in server/access.
import { roleGrant, type RoleGrant } from '../server/access/roles.ts';

export type LaunchRole = RoleGrant;
export { roleName } from '../server/access/roles.ts';

export function launchRole(claims: readonly string[] | undefined): LaunchRole {
  return roleGrant(claims).grant;
}
