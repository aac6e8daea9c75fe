// A resource-link launch as LTI sees it: ltijs has verified the id_token; here its deployment is
// checked, its claims become the tool's (server/launch decides who gets a seat), and the answer is a
// page: the class with its seat token, or a refusal in words.
import type { Request, Response } from 'express';
import type { LaunchClaims, LaunchOutcome } from '../server/launch/index.ts';
import type { Logger } from '../server/logger/index.ts';
import { roomSettingsFromCustom } from './deep-linking.ts';
import { classroomPage, problemPage } from './pages.ts';
import type { PlatformRegistry } from './platforms.ts';
import type { LtijsToken } from './provider.ts';
import { accessAdvice } from './refusals.ts';

/** The launch use case (server/launch): the rows written, the decision, the seat. */
export type AdmitLaunch = (claims: LaunchClaims) => Promise<LaunchOutcome>;

export interface LaunchDependencies {
  platforms: PlatformRegistry;
  logger: Logger;
  admit: AdmitLaunch;
}

/** Text a launch carries, as it may be stored and shown: no control characters, bounded. */
function text(value: string | undefined, max = 500): string {
  return (value ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, max);
}

export function launchHandler({ platforms, logger, admit }: LaunchDependencies) {
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
    const info = token.userInfo ?? {};
    const locale = text(claims.launchPresentation?.locale, 35) || 'en';
    const outcome = await admit({
      issuer: token.iss,
      deploymentId: token.deploymentId,
      clientId: token.clientId,
      subject: token.user,
      name: text(info.name, 200) || text([info.given_name, info.family_name].filter(Boolean).join(' '), 200) || 'Participant',
      email: info.email ? text(info.email, 320) : null,
      locale,
      context: { id: context.id, title: text(context.title ?? context.label ?? ''), label: context.label ? text(context.label) : null },
      resourceLink: { id: resource.id, title: text(resource.title, 200) || 'Live class' },
      roles: claims.roles ?? [],
      roomSettings: roomSettingsFromCustom(claims.custom),
      services: {
        nrpsUrl: claims.namesRoles?.context_memberships_url,
        agsLineItemsUrl: claims.endpoint?.lineitems,
        agsScopes: claims.endpoint?.lineitems && Array.isArray(claims.endpoint.scope) ? claims.endpoint.scope : undefined,
      },
    });
    if (!outcome.admitted) {
      return refuse(403, 'You cannot join this live class', `Reason: ${outcome.reason}. ${accessAdvice(outcome.code)}`, { room: outcome.room.id, user: outcome.user.id });
    }
    res
      .status(200)
      .type('html')
      // The classroom (camera, microphone, the seat) may be framed only by the platform that launched it.
      .set('Content-Security-Policy', frameAncestors(token.iss, claims.launchPresentation?.return_url))
      .send(
        classroomPage({
          roomId: outcome.room.id,
          roomTitle: outcome.room.title,
          courseTitle: outcome.course.title,
          userName: outcome.user.name,
          role: outcome.role,
          locale,
          seatToken: outcome.seat,
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
