// The launch use case: from a verified launch's claims to a seat in a room, or a refusal with its reason.
export { Launches, type LaunchClaims, type LaunchDependencies, type LaunchOutcome } from './launch.ts';
