// A launch, once lti/ has verified it and turned it into claims: the course, the user, their
// membership and the room are written (or found), the access rules decide, and an admitted person
// gets a seat token for the class page. lti/ renders the answer; nothing here knows of LTI messages.
import type { AccessService, RefusalCode, SeatTokens } from '../access/index.ts';
import type { Course, Repositories, Room, RoomSettings, User } from '../db/index.ts';
import type { Logger } from '../logger/index.ts';

/** What a verified launch says, as the tool keeps it. */
export interface LaunchClaims {
  issuer: string;
  deploymentId: string;
  clientId: string;
  /** The user's id at the LMS (`sub`). */
  subject: string;
  name: string;
  email: string | null;
  locale: string;
  context: { id: string; title: string; label: string | null };
  resourceLink: { id: string; title: string };
  roles: string[];
  /** A new room's settings (a link placed with Deep Linking carries them); later changes go through the room's settings. */
  roomSettings: RoomSettings;
  /** Where the course's LMS services are (NRPS, AGS), when the launch names them. */
  services: { nrpsUrl?: string | undefined; agsLineItemsUrl?: string | undefined; agsScopes?: string[] | undefined };
}

export type LaunchOutcome =
  | { admitted: true; room: Room; course: Course; user: User; role: 'host' | 'attendee'; reason: string; seat: string }
  | { admitted: false; room: Room; user: User; reason: string; code?: RefusalCode };

export interface LaunchDependencies {
  repositories: () => Repositories;
  access: Pick<AccessService, 'decideIn'>;
  seats: Pick<SeatTokens, 'issue'>;
  logger: Logger;
}

export class Launches {
  readonly #deps: LaunchDependencies;

  constructor(deps: LaunchDependencies) {
    this.#deps = deps;
  }

  /** Writes what the launch says, decides, and answers the seat or the refusal. */
  async admit(claims: LaunchClaims): Promise<LaunchOutcome> {
    const { repositories, access, seats, logger } = this.#deps;
    const repos = repositories();
    const course = await repos.courses.upsert(
      { issuer: claims.issuer, deploymentId: claims.deploymentId, contextId: claims.context.id },
      {
        title: claims.context.title,
        label: claims.context.label,
        services: {
          clientId: claims.clientId,
          nrpsUrl: claims.services.nrpsUrl,
          agsLineItemsUrl: claims.services.agsLineItemsUrl,
          agsScopes: claims.services.agsScopes,
        },
      },
    );
    const user = await repos.users.upsert(claims.issuer, claims.subject, { name: claims.name, email: claims.email, locale: claims.locale });
    const membership = await repos.memberships.set(course.id, user.id, { roles: claims.roles, status: 'active', source: 'launch' });
    const room = await repos.rooms.ensure(course.id, { resourceLinkId: claims.resourceLink.id, title: claims.resourceLink.title }, claims.roomSettings);
    const decision = await access.decideIn({ room, course }, { user, membership }, 'launch');
    if (decision.grant === 'denied') return { admitted: false, room, user, reason: decision.reason, ...(decision.code ? { code: decision.code } : {}) };
    const role = decision.grant === 'host' ? 'host' : 'attendee';
    logger.info({ issuer: claims.issuer, deployment: claims.deploymentId, room: room.id, user: user.id, role, reason: decision.reason }, 'launch');
    const seat = seats.issue({ userId: user.id, roomId: room.id, role, name: user.name, locale: claims.locale });
    return { admitted: true, room, course, user, role, reason: decision.reason, seat };
  }
}
