// LTI Advantage services (NRPS memberships, AGS line items, results and scores) for the access
// rules, through ltijs. ltijs wants the id_token of a launch; a course's services outlive any one
// launch, so we hand it the few fields it reads (issuer, client id, service URLs) from what the
// last launch stored on the course.
import {
  LmsError,
  type AttendanceScore,
  type CourseServicesRef,
  type LmsMember,
  type LmsMemberStatus,
  type LmsResult,
  type LmsServices,
  type MemberList,
  type NewLineItem,
} from '../server/access/lms.ts';
import type { Logger } from '../server/logger/index.ts';
import type { LtiStore } from './store.ts';

/** The LTI Advantage scopes the tool uses (and asks for in Dynamic Registration). */
export const SCOPE = {
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
  lineItem: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  result: 'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  score: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
} as const;

/** Members asked per NRPS page, and the most the tool reads for one course before it stops. */
export const NRPS_PAGE_SIZE = 500;
export const NRPS_MAX_MEMBERS = 20_000;
/** Result pages followed for one line item. */
const MAX_RESULT_PAGES = 50;

interface ServiceToken {
  iss: string;
  clientId: string;
  deploymentId: string;
  user: string;
  platformContext: {
    namesRoles?: { context_memberships_url: string };
    endpoint?: { lineitems: string; scope: readonly string[] };
    resource?: { id: string };
  };
}


/** The slice of ltijs' services we call. */
export interface LtijsServicesApi {
  NamesAndRoles: { getMembers(token: ServiceToken, options: Record<string, unknown>): Promise<{ members?: unknown; next?: string }> };
  Grade: {
    getLineItems(token: ServiceToken, options: Record<string, unknown>): Promise<{ lineItems?: unknown; next?: string }>;
    createLineItem(token: ServiceToken, item: Record<string, unknown>): Promise<{ id?: unknown }>;
    getScores(token: ServiceToken, lineItemId: string, options: Record<string, unknown>): Promise<{ scores?: unknown; next?: string }>;
    submitScore(token: ServiceToken, lineItemId: string, score: Record<string, unknown>): Promise<unknown>;
  };
}

const STATUSES = new Set<LmsMemberStatus>(['Active', 'Inactive', 'Deleted']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** got's errors and ltijs' own thrown strings, as the kinds the access rules reason about. */
function classifyLmsError(error: unknown, what: string): LmsError {
  if (error instanceof LmsError) return error;
  const e = error as { response?: { statusCode?: number }; code?: string; name?: string; message?: string };
  const status = e?.response?.statusCode;
  // got's ParseError carries the (2xx) response whose body was not JSON.
  if (e?.name === 'ParseError' || e?.name === 'SyntaxError') return new LmsError('invalid', `${what}: the LMS answered something that is not JSON`, { cause: error });
  if (typeof status === 'number') {
    if (status >= 500 || status === 429 || status === 408) return new LmsError('unreachable', `${what}: the LMS answered ${status}`, { status, cause: error });
    return new LmsError('refused', `${what}: the LMS refused with ${status}`, { status, cause: error });
  }
  if (e?.message === 'PLATFORM_NOT_FOUND' || e?.message === 'PLATFORM_NOT_ACTIVATED') {
    return new LmsError('refused', `${what}: the platform is ${e.message === 'PLATFORM_NOT_FOUND' ? 'no longer registered' : 'not active'}`, { cause: error });
  }
  const detail = e?.code ?? e?.name ?? 'error';
  return new LmsError('unreachable', `${what}: the LMS could not be reached (${detail}${e?.message ? `: ${e.message}` : ''})`, { cause: error });
}

function memberOf(raw: unknown): LmsMember | undefined {
  if (!isRecord(raw) || typeof raw.user_id !== 'string' || raw.user_id === '') return undefined;
  const status = typeof raw.status === 'string' && STATUSES.has(raw.status as LmsMemberStatus) ? (raw.status as LmsMemberStatus) : 'Active';
  const roles = Array.isArray(raw.roles) ? raw.roles.filter((r): r is string => typeof r === 'string') : [];
  return { userId: raw.user_id, status, roles };
}

function finiteOrUndefined(value: unknown, field: string, userId: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new LmsError('invalid', `the LMS sent a ${field} for user ${userId} that is not a number (${JSON.stringify(value).slice(0, 40)})`);
  }
  return value;
}

export class LtiServices implements LmsServices {
  readonly #ltijs: LtijsServicesApi;
  readonly #store: LtiStore;
  readonly #logger: Logger;

  constructor(ltijs: LtijsServicesApi, store: LtiStore, logger: Logger) {
    this.#ltijs = ltijs;
    this.#store = store;
    this.#logger = logger;
  }

  #token(course: CourseServicesRef, resourceLinkId?: string): ServiceToken {
    const token: ServiceToken = { iss: course.issuer, clientId: course.clientId, deploymentId: course.deploymentId, user: '', platformContext: {} };
    if (course.nrpsUrl) token.platformContext.namesRoles = { context_memberships_url: course.nrpsUrl };
    if (course.agsLineItemsUrl) token.platformContext.endpoint = { lineitems: course.agsLineItemsUrl, scope: course.agsScopes };
    if (resourceLinkId) token.platformContext.resource = { id: resourceLinkId };
    return token;
  }

  /**
   * Runs an ltijs call; on a 401 the platform no longer accepts ltijs' cached access token (it
   * keeps one until its own expiry), so forget it and try once more with a fresh one.
   */
  async #call<T>(course: CourseServicesRef, what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const status = (error as { response?: { statusCode?: number } })?.response?.statusCode;
      if (status !== 401) throw classifyLmsError(error, what);
      await this.#store.Delete('accesstoken', { platformUrl: course.issuer, clientId: course.clientId });
      try {
        return await call();
      } catch (again) {
        throw classifyLmsError(again, what);
      }
    }
  }

  #requireNrps(course: CourseServicesRef): void {
    if (!course.nrpsUrl) throw new LmsError('unsupported', 'the LMS offers no membership service (NRPS) for this course');
  }

  #requireAgs(course: CourseServicesRef, scopes: string[]): void {
    if (!course.agsLineItemsUrl) throw new LmsError('unsupported', 'the LMS offers no grade service (AGS) for this course');
    const missing = scopes.filter((s) => !course.agsScopes.includes(s));
    if (missing.length > 0) throw new LmsError('unsupported', `the LMS does not grant the grade scopes ${missing.map((s) => s.split('/').pop()).join(', ')}`);
  }

  async members(course: CourseServicesRef, options: { resourceLinkId?: string } = {}): Promise<MemberList> {
    this.#requireNrps(course);
    const rlid = options.resourceLinkId;
    try {
      return await this.#allMembers(course, rlid);
    } catch (error) {
      // A platform that does not know `rlid` may refuse it: the course's list still answers.
      if (rlid !== undefined && error instanceof LmsError && error.kind === 'refused' && (error.status === 400 || error.status === 404)) {
        this.#logger.info({ issuer: course.issuer, status: error.status }, 'membership for one resource link refused; using the course membership');
        return this.#allMembers(course, undefined);
      }
      throw error;
    }
  }

  async #allMembers(course: CourseServicesRef, rlid: string | undefined): Promise<MemberList> {
    const token = this.#token(course, rlid);
    const members = new Map<string, LmsMember>();
    const seen = new Set<string>();
    let next: string | undefined;
    let page = 0;
    for (;;) {
      const options: Record<string, unknown> = next === undefined ? { pages: 1, limit: NRPS_PAGE_SIZE, resourceLinkId: rlid !== undefined } : { pages: 1, url: next };
      const body = await this.#call(course, 'membership (NRPS)', () => this.#ltijs.NamesAndRoles.getMembers(token, options));
      page++;
      if (!isRecord(body) || !Array.isArray(body.members)) throw new LmsError('invalid', 'membership (NRPS): the LMS answered without a members list');
      for (const raw of body.members) {
        const member = memberOf(raw);
        if (member) members.set(member.userId, member);
      }
      next = typeof body.next === 'string' && body.next !== '' ? body.next : undefined;
      if (next === undefined) return { members, complete: true, resourceLink: rlid !== undefined };
      if (seen.has(next)) return { members, complete: false, note: `the LMS's membership pages loop back to ${next} after page ${page}`, resourceLink: rlid !== undefined };
      seen.add(next);
      if (members.size >= NRPS_MAX_MEMBERS) {
        return { members, complete: false, note: `the course has more than ${NRPS_MAX_MEMBERS} members; read the first ${members.size} in ${page} pages`, resourceLink: rlid !== undefined };
      }
    }
  }

  async findLineItem(course: CourseServicesRef, tag: string, resourceLinkId?: string): Promise<string | undefined> {
    this.#requireAgs(course, []);
    const token = this.#token(course, resourceLinkId);
    let options: Record<string, unknown> = { tag, resourceLinkId: resourceLinkId !== undefined };
    for (let page = 0; page < MAX_RESULT_PAGES; page++) {
      const body = await this.#call(course, 'line items (AGS)', () => this.#ltijs.Grade.getLineItems(token, options));
      if (!isRecord(body) || !Array.isArray(body.lineItems)) throw new LmsError('invalid', 'line items (AGS): the LMS answered without a list');
      // Filter again: a platform may ignore the query parameters.
      const found = body.lineItems.find(
        (i) => isRecord(i) && i.tag === tag && typeof i.id === 'string' && (resourceLinkId === undefined || i.resourceLinkId === resourceLinkId),
      ) as { id: string } | undefined;
      if (found) return found.id;
      if (typeof body.next !== 'string') return undefined;
      options = { url: body.next };
    }
    return undefined;
  }

  async createLineItem(course: CourseServicesRef, item: NewLineItem): Promise<string> {
    this.#requireAgs(course, [SCOPE.lineItem]);
    const token = this.#token(course, item.resourceLinkId);
    const body: Record<string, unknown> = { label: item.label, scoreMaximum: item.scoreMaximum, tag: item.tag };
    if (item.resourceLinkId) body.resourceLinkId = item.resourceLinkId;
    const created = await this.#call(course, 'create line item (AGS)', () => this.#ltijs.Grade.createLineItem(token, { ...body }));
    if (!isRecord(created) || typeof created.id !== 'string' || !URL.canParse(created.id)) {
      throw new LmsError('invalid', 'create line item (AGS): the LMS answered without the new line item\'s URL');
    }
    return created.id;
  }

  async results(course: CourseServicesRef, lineItemUrl: string, userId?: string): Promise<LmsResult[]> {
    this.#requireAgs(course, [SCOPE.result]);
    const token = this.#token(course);
    const results: LmsResult[] = [];
    let options: Record<string, unknown> = userId === undefined ? {} : { userId };
    for (let page = 0; page < MAX_RESULT_PAGES; page++) {
      const body = await this.#call(course, 'results (AGS)', () => this.#ltijs.Grade.getScores(token, lineItemUrl, options));
      if (!isRecord(body) || !Array.isArray(body.scores)) throw new LmsError('invalid', 'results (AGS): the LMS answered without a results list');
      for (const raw of body.scores) {
        if (!isRecord(raw) || typeof raw.userId !== 'string') continue;
        if (userId !== undefined && raw.userId !== userId) continue;
        results.push({
          userId: raw.userId,
          score: finiteOrUndefined(raw.resultScore, 'resultScore', raw.userId),
          maximum: finiteOrUndefined(raw.resultMaximum, 'resultMaximum', raw.userId),
        });
      }
      if (typeof body.next !== 'string') return results;
      options = { url: body.next };
    }
    this.#logger.warn({ issuer: course.issuer, lineItemUrl }, `results: stopped after ${MAX_RESULT_PAGES} pages`);
    return results;
  }

  async submitScore(course: CourseServicesRef, lineItemUrl: string, score: AttendanceScore): Promise<void> {
    this.#requireAgs(course, [SCOPE.score]);
    await this.#call(course, 'score (AGS)', () =>
      this.#ltijs.Grade.submitScore(this.#token(course), lineItemUrl, {
        userId: score.userId,
        scoreGiven: score.scoreGiven,
        scoreMaximum: score.scoreMaximum,
        comment: score.comment,
        activityProgress: 'Completed',
        gradingProgress: 'FullyGraded',
      }),
    );
  }
}

