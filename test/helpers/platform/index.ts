// LTI 1.3 platform simulator for the tool's tests. See platform.ts for the API.
export { Platform, PlatformClosedError } from './platform.ts';
export { CLAIM, ROLES, SCOPES, rolesFor } from './claims.ts';
export { LaunchStoppedError, type LaunchResult, type PostOverrides, type PreparedLaunch, type FlowOptions } from './launch.ts';
export { CookieJar, UserAgent, parseForms, type ParsedForm } from './user-agent.ts';
export { NRPS_MEDIA_TYPE } from './nrps.ts';
export type * from './types.ts';
