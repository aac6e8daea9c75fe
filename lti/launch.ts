// A resource-link launch: from validated LTI claims to a course, a room, a user and a seat.
import type { Request, Response } from 'express';
import type { Course, Membership, Repositories, Room, User } from '../server/db/index.ts';
import type { Logger } from '../server/logger.ts';
import { roomSettingsFromCustom } from './deep-linking.ts';
import { classroomPage, problemPage } from './pages.ts';
import type { PlatformRegistry } from './platforms.ts';
import type { LtijsToken } from './provider.ts';
import type { RefusalCode } from '../server/access/index.ts';
import { accessAdvice } from './refusals.ts';
import type { SeatTokens } from './seat-token.ts';

/** What the access rules answered for a launch. */
export interface LaunchDecision {
  grant: 'host' | 'speaker' | 'attendee' | 'denied';
  reason: string;
  code?: RefusalCode;
}

/** Decides for the rows the launch has just written (no need to read them back). */
export type DecideAccess = (place: { room: Room; course: Course }, person: { user: User; membership: Membership }) => Promise<LaunchDecision>;

export interface LaunchDependencies {
  repositories: () => Repositories;
  platforms: PlatformRegistry;
  seats: SeatTokens;
  logger: Logger;
  decide: DecideAccess;
}

export function launchHandler({ repositories, platforms, seats, logger, decide }: LaunchDependencies) {
  return async (token: LtijsToken, _req: Request, res: Response): Promise<void> => {
    const claims = token.platformContext;
    const log = logger.child({ issuer: token.iss, deployment: token.deploymentId });
    const refuse = (status: number, title: string, explanation: string, ids: { room?: string; user?: string } = {}) => {
      log.warn({ status, ...ids }, `launch refused: ${explanation}`);
      res.status(status).type('html').send(problemPage(title, explanation));
    };
    if (!(await platforms.hasDeployment(token.iss, token.clientId, token.deploymentId))) {
      return refuse(
        403,
        'This LMS deployment is not registered',
        `Live Classroom does not know deployment "${token.deploymentId}" of ${token.iss}. ` +
          `Ask your LMS administrator to register it: npm run platform -- activate --issuer ${token.iss} --client-id ${token.clientId} --deployment-id ${token.deploymentId}`,
      );
    }
    const context = claims.context;
    if (!context?.id) {
      return refuse(400, 'Open the live class from a course', 'This launch carries no course (LTI context): add Live Classroom to a course and open it there.');
    }
    const resource = claims.resource;
    if (!resource?.id) return refuse(400, 'Incomplete launch', 'The LMS sent no resource link id; the activity cannot be identified.');

    const repos = repositories();
    const info = token.userInfo ?? {};
    const name = info.name || [info.given_name, info.family_name].filter(Boolean).join(' ') || 'Participant';
    const locale = claims.launchPresentation?.locale ?? 'en';
    const course = await repos.courses.upsert(
      { issuer: token.iss, deploymentId: token.deploymentId, contextId: context.id },
      {
        title: context.title ?? context.label ?? '',
        label: context.label ?? null,
        services: {
          clientId: token.clientId,
          nrpsUrl: claims.namesRoles?.context_memberships_url,
          agsLineItemsUrl: claims.endpoint?.lineitems,
          agsScopes: claims.endpoint?.lineitems && Array.isArray(claims.endpoint.scope) ? claims.endpoint.scope : undefined,
        },
      },
    );
    const user = await repos.users.upsert(token.iss, token.user, { name, email: info.email ?? null, locale });
    const membership = await repos.memberships.set(course.id, user.id, { roles: claims.roles ?? [], status: 'active', source: 'launch' });
    // A link placed with Deep Linking carries its settings in custom parameters; they apply when
    // the room is created, later changes go through the room's settings.
    const room = await repos.rooms.ensure(course.id, { resourceLinkId: resource.id, title: resource.title ?? 'Live class' }, roomSettingsFromCustom(claims.custom));
    const decision = await decide({ room, course }, { user, membership });
    if (decision.grant === 'denied') {
      return refuse(403, 'You cannot join this live class', `Reason: ${decision.reason}. ${accessAdvice(decision.code)}`, { room: room.id, user: user.id });
    }
    const role = decision.grant === 'host' ? 'host' : 'attendee';
    log.info({ room: room.id, user: user.id, role, reason: decision.reason }, 'launch');
    res
      .status(200)
      .type('html')
      // The classroom (camera, microphone, the seat) may be framed only by the platform that launched it.
      .set('Content-Security-Policy', frameAncestors(token.iss, claims.launchPresentation?.return_url))
      .send(
        classroomPage({
          roomId: room.id,
          roomTitle: room.title,
          courseTitle: course.title,
          userName: user.name,
          role,
          locale,
          seatToken: seats.issue({ userId: user.id, roomId: room.id, role, name: user.name, locale }),
        }),
      );
  };
}

/**
 * The Content-Security-Policy of the classroom page: framed by this tool or by the launching
 * platform only, known from the signed launch: its issuer (Moodle's site address) and the page the
 * launch returns to (a Canvas instance's own domain: Canvas's issuer is canvas.instructure.com).
 */
function frameAncestors(issuer: string, returnUrl: string | undefined): string {
  const origins = new Set(["'self'"]);
  for (const raw of [issuer, returnUrl]) {
    if (!raw) continue;
    try {
      const url = new URL(raw);
      if (url.protocol === 'https:' || url.protocol === 'http:') origins.add(url.origin);
    } catch {
      // not a URL: nothing to allow
    }
  }
  return `frame-ancestors ${[...origins].join(' ')}`;
}
