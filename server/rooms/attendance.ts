// Attendance back to the LMS: when a class ends, each attendee's minutes present go to an
// "Attendance" line item of the room (created through AGS the first time), if the instructor
// turned attendance on for the room.
import type { ClassSession, Presence, Repositories } from '../db/index.ts';
import type { Logger } from '../logger/index.ts';
import { courseServices, findOrCreateLineItem, LmsError, roleGrant, type LmsServices } from '../access/index.ts';

export const ATTENDANCE_TAG = 'live-classroom:attendance';

/** Milliseconds present within [start, end], counting overlapping stretches (two tabs) once. */
export function presentMs(presence: Presence, start: Date, end: Date): number {
  const spans = presence.intervals
    .map((i) => [Math.max(i.joinedAt.getTime(), start.getTime()), Math.min((i.leftAt ?? end).getTime(), end.getTime())] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let [from, to] = [Number.NaN, Number.NaN];
  for (const [a, b] of spans) {
    if (Number.isNaN(from) || a > to) {
      if (!Number.isNaN(from)) total += to - from;
      [from, to] = [a, b];
    } else to = Math.max(to, b);
  }
  if (!Number.isNaN(from)) total += to - from;
  return total;
}

/** Minutes with one decimal, as sent to the gradebook. */
export function minutes(ms: number): number {
  return Math.round(ms / 6_000) / 10;
}

export interface AttendanceReport {
  sent: number;
  problem: string | undefined;
}

export class AttendanceReporter {
  readonly #repositories: () => Repositories;
  readonly #lms: LmsServices;
  readonly #logger: Logger;

  constructor(repositories: () => Repositories, lms: LmsServices, logger: Logger) {
    this.#repositories = repositories;
    this.#lms = lms;
    this.#logger = logger;
  }

  /** Sends the scores of an ended class; returns how many were sent and the problem, if any. */
  async report(session: ClassSession): Promise<AttendanceReport> {
    const repos = this.#repositories();
    const room = await repos.rooms.get(session.roomId);
    if (!room?.attendanceEnabled || !session.endedAt) return { sent: 0, problem: undefined };
    const course = await repos.courses.get(room.courseId);
    const log = this.#logger.child({ room: room.id, session: session.id });
    const fail = async (problem: string): Promise<AttendanceReport> => {
      log.warn(`attendance not sent: ${problem}`);
      await repos.classes.attendanceReported(session.id, problem);
      return { sent: 0, problem };
    };
    const services = course && courseServices(course);
    if (!services) return fail('no launch has told the tool where this course\'s grade service is');
    const classMs = session.endedAt.getTime() - session.startedAt.getTime();
    const classMinutes = Math.max(0.1, minutes(classMs));
    let sent = 0;
    const skipped: string[] = [];
    try {
      let lineItemUrl = room.attendanceLineItemUrl;
      if (!lineItemUrl) {
        lineItemUrl = await findOrCreateLineItem(this.#lms, services, {
          label: `Attendance: ${room.title || 'Live class'}`,
          scoreMaximum: room.durationMinutes ?? 60,
          tag: ATTENDANCE_TAG,
          resourceLinkId: room.resourceLinkId,
        });
        await repos.rooms.update(room.id, { attendanceLineItemUrl: lineItemUrl });
      }
      for (const presence of await repos.classes.presence(session.id)) {
        const membership = await repos.memberships.get(room.courseId, presence.userId);
        if (!membership || roleGrant(membership.roles).grant !== 'attendee') continue;
        const user = await repos.users.get(presence.userId);
        if (!user) continue;
        const present = minutes(presentMs(presence, session.startedAt, session.endedAt));
        try {
          await this.#lms.submitScore(services, lineItemUrl, {
            userId: user.subject,
            scoreGiven: Math.min(present, classMinutes),
            scoreMaximum: classMinutes,
            comment: `Present ${present} of ${classMinutes} minutes in the live class of ${session.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
          });
          sent++;
        } catch (error) {
          // The LMS refusing one student (dropped from the course meanwhile) must not cost the others their score.
          if (!(error instanceof LmsError) || error.kind !== 'refused') throw error;
          log.warn({ user: presence.userId }, `attendance score refused: ${error.message}`);
          skipped.push(user.name || user.subject);
        }
      }
    } catch (error) {
      const problem = error instanceof LmsError ? error.message : `unexpected error: ${(error as Error).message}`;
      if (!(error instanceof LmsError)) log.error({ err: error }, 'attendance failed');
      return fail(sent > 0 ? `${problem} (after ${sent} scores were sent)` : problem);
    }
    if (skipped.length > 0) {
      const problem = `the LMS refused the score of ${skipped.length} student(s): ${skipped.slice(0, 10).join(', ')}`;
      await repos.classes.attendanceReported(session.id, problem);
      return { sent, problem };
    }
    await repos.classes.attendanceReported(session.id, null);
    log.info({ sent }, 'attendance sent to the LMS');
    return { sent, problem: undefined };
  }
}
