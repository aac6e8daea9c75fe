// Who may enter a room: one decision for (user, room) with a reason a person can read.
//
//   role (launch, or NRPS when it answers) -> host | attendee | denied
//   enrollment (NRPS status; the resource link's list where the LMS offers it) -> denied if not active
//   payment (paid rooms: AGS result on the course's fee line item >= threshold) -> denied if unpaid
//   stage (a host brought the attendee on stage) -> speaker
//
// Facts from the LMS are cached for `cacheSeconds` (facts.ts); a refusal always rests on a fresh
// read. Every decision on launch and join is stored, a re-check when its outcome changes.
import type { Course, Grant, Membership, Repositories, Room, User } from '../db/index.ts';
import type { Logger } from '../logger/index.ts';
import { LmsFacts, type Round } from './facts.ts';
import { courseServices, findOrCreateLineItem, LmsError, type CourseServicesRef, type LmsResult, type LmsServices } from './lms.ts';
import { roleGrant } from './roles.ts';

export type DecisionSource = 'launch' | 'nrps' | 'ags' | 'fallback' | 'role' | 'stage';
/** `replay`: a recording's playlist or segment is fetched (stored, like a re-check, only when the outcome changes). */
export type Trigger = 'launch' | 'join' | 'recheck' | 'replay';

export interface Decision {
  grant: Grant;
  reason: string;
  /** For a refusal: which one, so what a person is told does not hang on the reason's wording. */
  code?: RefusalCode;
  source: DecisionSource;
  decidedAt: Date;
}

export const PAID_LINE_ITEM_TAG = 'live-classroom:course-fee';
export const PAID_LINE_ITEM_LABEL = 'Course fee paid';
/** The fee line item's maximum: the LMS or the shop writes 1 when a student has paid. */
export const PAID_LINE_ITEM_MAXIMUM = 1;

export const REASONS = {
  notEnrolled: 'not enrolled in this course',
  inactive: 'enrollment inactive',
  deleted: 'removed from the course',
  restricted: 'the LMS restricts this activity for you (a group, date, payment or other condition set on the activity)',
  notPaid: 'course fee not paid',
  unverified: 'payment could not be verified, try again in a few minutes',
} as const;

export type RefusalCode = keyof typeof REASONS | 'role' | 'paymentUnsupported';

export interface AccessSettings {
  /** How long facts from the LMS (memberships, results) are reused. */
  cacheSeconds: number;
  /** How long a payment verified by the LMS still admits a student while the LMS cannot be reached. */
  paymentGraceHours: number;
}

export interface AccessDependencies {
  repositories: () => Repositories;
  lms: LmsServices;
  logger: Logger;
  settings: AccessSettings;
  now?: () => number;
  /** Told of every decision as it is made (the metrics count them); must not throw. */
  onDecision?: (grant: Grant, trigger: Trigger) => void;
}

export class RoomNotFoundError extends Error {
  constructor(roomId: string) {
    super(`no room ${roomId}`);
    this.name = 'RoomNotFoundError';
  }
}

/** A user id that names nobody (the account was removed, e.g. with its course). */
export class PersonNotFoundError extends Error {
  constructor(userId: string) {
    super(`no user ${userId}`);
    this.name = 'PersonNotFoundError';
  }
}

/** Why someone whose account no longer exists is refused. */
export const ACCOUNT_REMOVED = 'your account is no longer known to Live Classroom; open the class again from the course page';

/** How often a standing payment's verification time is written again (the grace period counts from it). */
const PAID_VERIFICATION_REFRESH_MS = 3600_000;

/** A person's own rows, as a launch holds them. */
export interface Person {
  user: User;
  membership: Membership;
}

/** The person a decision is about, with the course and room it is about. */
interface Candidate {
  services: CourseServicesRef;
  course: Course;
  room: Room;
  /** The LTI user id (`sub`), as NRPS and AGS name people. */
  subject: string;
  membership: Membership;
}

export class AccessService {
  readonly #repositories: () => Repositories;
  readonly #lms: LmsServices;
  readonly #logger: Logger;
  readonly #settings: AccessSettings;
  readonly #now: () => number;
  readonly #onDecision: ((grant: Grant, trigger: Trigger) => void) | undefined;
  readonly #facts: LmsFacts;
  readonly #lineItems = new Map<string, Promise<string>>();
  /** The last outcome per room and user, to store re-checks only when they change. */
  readonly #last = new Map<string, Grant>();

  constructor({ repositories, lms, logger, settings, now, onDecision }: AccessDependencies) {
    this.#repositories = repositories;
    this.#lms = lms;
    this.#logger = logger;
    this.#settings = settings;
    this.#now = now ?? Date.now;
    this.#onDecision = onDecision;
    this.#facts = new LmsFacts(lms, settings.cacheSeconds, this.#now);
  }

  /** Decides and stores the decision (see the file's head for when). */
  async decide(userId: string, roomId: string, trigger: Trigger): Promise<Decision> {
    const { repos, room, course } = await this.#load(roomId);
    return this.#decideAndRecord(repos, userId, room, course, trigger, { since: this.#now(), mustBeFresh: false });
  }

  /**
   * Re-checks everyone present in a live class with facts read afresh once for the room (one NRPS
   * list, one AGS results list), not once per student. Returns the decisions by user id.
   */
  async recheck(roomId: string, userIds: readonly string[]): Promise<Map<string, Decision>> {
    const { repos, room, course } = await this.#load(roomId);
    const round: Round = { since: this.#now(), mustBeFresh: true };
    const services = courseServices(course);
    if (services && this.#isPaid(room, course) && course.paidLineItemUrl) this.#facts.readAllResults(services, course.paidLineItemUrl, round);
    const decisions = new Map<string, Decision>();
    for (const userId of userIds) decisions.set(userId, await this.#decideAndRecord(repos, userId, room, course, 'recheck', round));
    return decisions;
  }

  async #load(roomId: string): Promise<{ repos: Repositories; room: Room; course: Course }> {
    const repos = this.#repositories();
    const room = await repos.rooms.get(roomId);
    if (!room) throw new RoomNotFoundError(roomId);
    return { repos, room, course: (await repos.courses.get(room.courseId)) as Course };
  }

  /** Decides with the room and course, and the person's own rows, that the caller already holds (a launch has just written them). */
  async decideIn(place: { room: Room; course: Course }, person: Person, trigger: Trigger): Promise<Decision> {
    return this.#decideAndRecord(this.#repositories(), person.user.id, place.room, place.course, trigger, { since: this.#now(), mustBeFresh: false }, person);
  }

  async #decideAndRecord(repos: Repositories, userId: string, room: Room, course: Course, trigger: Trigger, round: Round, person?: Person): Promise<Decision> {
    let decision: Decision;
    try {
      decision = await this.#decide(repos, userId, room, course, round, person);
    } catch (error) {
      if (!(error instanceof PersonNotFoundError)) throw error;
      // The account is gone (removed with its course, or by an administrator): a refusal, with
      // nothing to store it against.
      this.#logger.info({ room: room.id, user: userId, trigger }, 'refused a user who no longer exists');
      return { grant: 'denied', reason: ACCOUNT_REMOVED, code: 'notEnrolled', source: 'launch', decidedAt: new Date(this.#now()) };
    }
    if (decision.grant === 'host' && this.#isPaid(room, course) && !course.paidLineItemUrl) {
      // The instructor's launch creates the "Course fee paid" column before any student needs it.
      this.paidLineItem(course).catch((error: unknown) => this.#logger.warn({ err: error, course: course.id }, 'the course fee line item could not be created yet'));
    }
    await this.#remember(repos, room.id, userId, decision, trigger);
    return decision;
  }

  /** Stores a decision: always on launch and join, on a re-check or replay only when its outcome changed. */
  async #remember(repos: Repositories, roomId: string, userId: string, decision: Decision, trigger: Trigger): Promise<void> {
    this.#onDecision?.(decision.grant, trigger);
    const key = `${roomId}:${userId}`;
    const changed = this.#last.get(key) !== decision.grant;
    // Forgetting costs at most one extra stored decision per person.
    if (this.#last.size > 50_000) this.#last.clear();
    this.#last.set(key, decision.grant);
    if ((trigger !== 'recheck' && trigger !== 'replay') || changed) {
      await repos.accessDecisions.record({ roomId, userId, grant: decision.grant, reason: decision.reason, source: decision.source });
    }
    const log = this.#logger.child({ room: roomId, user: userId });
    if (decision.grant === 'denied') log.info({ trigger, source: decision.source }, `access denied: ${decision.reason}`);
    else log.debug({ trigger, grant: decision.grant, source: decision.source }, 'access granted');
  }

  /** Brings an attendee on stage. The actor must be a host of the room. */
  async bringOnStage(actorId: string, roomId: string, userId: string): Promise<Decision> {
    await this.#requireHost(actorId, roomId);
    const target = await this.#decideAbout(userId, roomId);
    if (target.grant !== 'attendee') {
      throw new AccessRefusedError(target.grant === 'denied' ? `cannot bring on stage: ${target.reason}` : `already ${target.grant === 'host' ? 'a host' : 'on stage'}`);
    }
    const repos = this.#repositories();
    await repos.stage.add(roomId, userId, actorId);
    // The stage only turns an attendee into a speaker: the rest of the decision stands.
    const onStage: Decision = { ...target, grant: 'speaker', reason: `on stage (${target.reason})`, source: 'stage' };
    await this.#remember(repos, roomId, userId, onStage, 'join');
    return onStage;
  }

  async takeOffStage(actorId: string, roomId: string, userId: string): Promise<Decision> {
    if (actorId !== userId) await this.#requireHost(actorId, roomId);
    return this.#decideAbout(userId, roomId, async () => void (await this.#repositories().stage.remove(roomId, userId)));
  }

  /** A decision about someone a host names: a user id that names nobody here is a refusal, not a failure. */
  async #decideAbout(userId: string, roomId: string, before?: () => Promise<void>): Promise<Decision> {
    const repos = this.#repositories();
    const room = await repos.rooms.get(roomId);
    if (!room) throw new RoomNotFoundError(roomId);
    if (!(await repos.memberships.get(room.courseId, userId))) throw new AccessRefusedError('this person is not in the class');
    await before?.();
    return this.decide(userId, roomId, 'join');
  }

  async #requireHost(actorId: string, roomId: string): Promise<void> {
    const actor = await this.decide(actorId, roomId, 'recheck');
    if (actor.grant !== 'host') throw new AccessRefusedError('only a host can do this');
  }

  /**
   * The course's fee line item, created through AGS the first time a paid room needs it (found by
   * its tag first, so a tool that lost its database does not create a second one).
   */
  async paidLineItem(course: Course): Promise<string> {
    if (course.paidLineItemUrl) return course.paidLineItemUrl;
    const services = courseServices(course);
    if (!services) throw new LmsError('unsupported', 'no launch has told the tool where this course\'s grade service is');
    let pending = this.#lineItems.get(course.id);
    if (!pending) {
      pending = (async () => {
        const url = await findOrCreateLineItem(this.#lms, services, { label: PAID_LINE_ITEM_LABEL, scoreMaximum: PAID_LINE_ITEM_MAXIMUM, tag: PAID_LINE_ITEM_TAG });
        await this.#repositories().courses.update(course.id, { paidLineItemUrl: url });
        this.#logger.info({ course: course.id, lineItem: url }, 'course fee line item ready');
        return url;
      })().finally(() => this.#lineItems.delete(course.id));
      this.#lineItems.set(course.id, pending);
    }
    return pending;
  }

  /** Forgets cached LMS facts, e.g. after an instructor changed a room's settings. */
  forget(courseId?: string): void {
    this.#facts.forget(courseId);
  }

  #isPaid(room: Room, course: Course): boolean {
    return room.policy === 'paid' || course.paymentRequired;
  }

  async #decide(repos: Repositories, userId: string, room: Room, course: Course, round: Round, person?: Person): Promise<Decision> {
    const decided = (grant: Grant, reason: string, source: DecisionSource): Decision => ({ grant, reason, source, decidedAt: new Date(this.#now()) });
    const refused = (code: RefusalCode, source: DecisionSource, reason: string = REASONS[code as keyof typeof REASONS]): Decision => ({ ...decided('denied', reason, source), code });
    const user = person?.user ?? (await repos.users.get(userId));
    if (!user) throw new PersonNotFoundError(userId);
    const membership = person?.membership ?? (await repos.memberships.get(course.id, userId));
    if (!membership) return refused('notEnrolled', 'launch');
    const fromLaunch = roleGrant(membership.roles);
    // LMS administrators are not course members (Canvas admins have no course role): no NRPS check.
    if (fromLaunch.grant === 'host' && fromLaunch.reason === 'LMS administrator') return decided('host', fromLaunch.reason, 'role');

    // Enrollment.
    let roles = fromLaunch;
    let enrollmentSource: DecisionSource = 'launch';
    const services = courseServices(course);
    if (services?.nrpsUrl) {
      const verdict = await this.#enrollment({ services, course, room, subject: user.subject, membership }, round);
      if (verdict.denied) return refused(verdict.denied, 'nrps');
      if (verdict.roles) roles = roleGrant(verdict.roles);
      enrollmentSource = verdict.source;
    } else if (membership.status !== 'active') {
      return refused(membership.status === 'deleted' ? 'deleted' : 'inactive', 'launch');
    }
    if (roles.grant === 'denied') return refused('role', 'role', roles.reason);
    if (roles.grant === 'host') return decided('host', roles.reason, enrollmentSource);

    // Payment.
    let reason = enrollmentSource === 'fallback' ? 'enrolled (from the launch: the LMS membership service could not be reached)' : 'enrolled';
    let source: DecisionSource = enrollmentSource;
    if (this.#isPaid(room, course)) {
      const paid = await this.#payment(repos, course, room, user.subject, membership, round);
      if (paid.grant === 'denied') return refused(paid.code, paid.source, paid.reason);
      reason = paid.reason;
      source = paid.source;
    }
    if (await repos.stage.has(room.id, userId)) return decided('speaker', `on stage (${reason})`, 'stage');
    return decided('attendee', reason, source);
  }

  /** Enrollment from NRPS; a refusal read from the cache is read again before it is given. */
  async #enrollment(who: Candidate, round: Round): Promise<{ denied?: keyof typeof REASONS; roles?: string[]; source: DecisionSource }> {
    const first = await this.#enrollmentFrom(who, round);
    if (!first.denied || first.source !== 'nrps' || first.fresh) return first;
    return this.#enrollmentFrom(who, { ...round, mustBeFresh: true });
  }

  async #enrollmentFrom(
    { services, course, room, subject, membership }: Candidate,
    round: Round,
  ): Promise<{ denied?: keyof typeof REASONS; roles?: string[]; source: DecisionSource; fresh?: boolean }> {
    const log = this.#logger.child({ course: course.id, room: room.id, user: membership.userId });
    let read;
    try {
      read = await this.#facts.members(services, course.id, room.resourceLinkId, round);
    } catch (error) {
      const problem = error instanceof LmsError ? error.message : String(error);
      log.warn({ err: error }, `membership check fell back to the launch: ${problem}`);
      if (membership.status !== 'active') return { denied: membership.status === 'deleted' ? 'deleted' : 'inactive', source: 'fallback' };
      return { source: 'fallback' };
    }
    const { value: list, fresh } = read;
    const repos = this.#repositories();
    const member = list.members.get(subject);
    if (member) {
      const status = member.status === 'Active' ? 'active' : member.status === 'Inactive' ? 'inactive' : 'deleted';
      if (status !== membership.status || (member.roles.length > 0 && member.roles.join(' ') !== membership.roles.join(' '))) {
        await repos.memberships.set(course.id, membership.userId, { roles: member.roles.length > 0 ? member.roles : membership.roles, status, source: 'nrps' });
      }
      if (status === 'inactive') return { denied: 'inactive', source: 'nrps', fresh };
      if (status === 'deleted') return { denied: 'deleted', source: 'nrps', fresh };
      return { roles: member.roles.length > 0 ? member.roles : undefined, source: 'nrps' };
    }
    if (!list.complete) {
      log.warn(`membership list incomplete (${list.note ?? 'no reason given'}); deciding from the launch`);
      return { source: 'fallback' };
    }
    if (!fresh) return { denied: 'notEnrolled', source: 'nrps', fresh };
    if (list.resourceLink) {
      // Not in the activity's list: enrolled in the course but held back by the activity's conditions?
      try {
        const whole = (await this.#facts.members(services, course.id, undefined, { ...round, mustBeFresh: true })).value;
        const inCourse = whole.members.get(subject);
        if (inCourse?.status === 'Active') return { denied: 'restricted', source: 'nrps', fresh };
        if (inCourse?.status === 'Inactive') return { denied: 'inactive', source: 'nrps', fresh };
      } catch (error) {
        log.warn({ err: error }, 'course membership could not be read; the activity\'s list decides');
        return { denied: 'restricted', source: 'nrps', fresh };
      }
    }
    if (membership.status === 'active') await repos.memberships.set(course.id, membership.userId, { roles: membership.roles, status: 'deleted', source: 'nrps' });
    return { denied: 'notEnrolled', source: 'nrps', fresh };
  }

  async #payment(
    repos: Repositories,
    course: Course,
    room: Room,
    subject: string,
    membership: Membership,
    round: Round,
  ): Promise<{ grant: 'attendee'; reason: string; source: DecisionSource } | { grant: 'denied'; code: RefusalCode; reason: string; source: DecisionSource }> {
    const threshold = room.paidThreshold ?? course.paidThreshold ?? 1;
    const services = courseServices(course);
    const log = this.#logger.child({ course: course.id, room: room.id, user: membership.userId });
    try {
      if (!services) throw new LmsError('unsupported', 'no launch has told the tool where this course\'s grade service is');
      const lineItemUrl = await this.paidLineItem(course);
      const paid = (result: LmsResult | undefined): boolean => {
        if (result?.score === undefined) return false;
        const maximum = result.maximum ?? PAID_LINE_ITEM_MAXIMUM;
        if (!(maximum > 0)) throw new LmsError('invalid', `the LMS sent a result maximum of ${maximum} for the course fee`);
        return result.score / maximum + 1e-9 >= threshold;
      };
      let read = await this.#facts.result(services, lineItemUrl, subject, round);
      // A cached "not paid" may predate the payment: refuse only on a result read in this round.
      if (!paid(read.value) && !read.fresh) read = await this.#facts.result(services, lineItemUrl, subject, { ...round, mustBeFresh: true });
      if (!paid(read.value)) return { grant: 'denied', code: 'notPaid', reason: REASONS.notPaid, source: 'ags' };
      const result = read.value as LmsResult & { score: number };
      const fraction = result.score / (result.maximum ?? PAID_LINE_ITEM_MAXIMUM);
      const verified = membership.paidVerifiedAt?.getTime();
      // Kept for the grace period (hours): no write per student on every re-check.
      if (membership.paidFraction !== fraction || verified === undefined || this.#now() - verified > PAID_VERIFICATION_REFRESH_MS) {
        await repos.memberships.markPaid(course.id, membership.userId, fraction, new Date(this.#now()));
      }
      return { grant: 'attendee', reason: 'course fee paid', source: 'ags' };
    } catch (error) {
      if (!(error instanceof LmsError)) throw error;
      log.warn({ kind: error.kind }, `payment check failed: ${error.message}`);
      if (error.kind === 'refused' && error.status === 404 && course.paidLineItemUrl) {
        // The fee line item was deleted in the LMS: find or create it again next time.
        await repos.courses.update(course.id, { paidLineItemUrl: null });
      }
      if (error.kind === 'unsupported' || error.kind === 'refused') {
        return { grant: 'denied', code: 'paymentUnsupported', reason: `payment cannot be verified: ${error.message}; ask your instructor`, source: 'ags' };
      }
      // The LMS cannot be reached or answers nonsense: only a recent verification that met this room's threshold admits.
      const verified = membership.paidVerifiedAt?.getTime();
      const graceMs = this.#settings.paymentGraceHours * 3600_000;
      const fraction = membership.paidFraction ?? 0;
      if (verified !== undefined && this.#now() - verified < graceMs && fraction + 1e-9 >= threshold) {
        return { grant: 'attendee', reason: `course fee paid (verified ${new Date(verified).toISOString()}; the LMS cannot be reached now)`, source: 'fallback' };
      }
      return { grant: 'denied', code: 'unverified', reason: REASONS.unverified, source: 'fallback' };
    }
  }
}

export class AccessRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccessRefusedError';
  }
}
