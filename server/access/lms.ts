// What the access rules need from the LMS (Names and Role Provisioning, Assignment and Grade
// Services). lti/ implements it over ltijs; the rules here never see ltijs or HTTP.
import type { Course } from '../db/index.ts';

/** Where one course's services live on its platform, as the last launch said. */
export interface CourseServicesRef {
  issuer: string;
  clientId: string;
  deploymentId: string;
  contextId: string;
  nrpsUrl: string | null;
  agsLineItemsUrl: string | null;
  agsScopes: readonly string[];
}

/** The course's services as its last launch named them; undefined before any launch told the client id. */
export function courseServices(course: Course): CourseServicesRef | undefined {
  if (!course.clientId) return undefined;
  return {
    issuer: course.issuer,
    clientId: course.clientId,
    deploymentId: course.deploymentId,
    contextId: course.contextId,
    nrpsUrl: course.nrpsUrl,
    agsLineItemsUrl: course.agsLineItemsUrl,
    agsScopes: course.agsScopes,
  };
}

export type LmsMemberStatus = 'Active' | 'Inactive' | 'Deleted';

export interface LmsMember {
  /** The LTI user id (`sub` of launches). */
  userId: string;
  status: LmsMemberStatus;
  roles: string[];
}

export interface MemberList {
  members: Map<string, LmsMember>;
  /** False when the list stopped early (pages that loop, more members than the tool reads). */
  complete: boolean;
  /** Why the list is incomplete, for the log. */
  note?: string;
  /** True when the platform answered for the resource link (`rlid`), not for the whole course. */
  resourceLink: boolean;
}

export interface LmsResult {
  userId: string;
  score: number | undefined;
  maximum: number | undefined;
}

export interface NewLineItem {
  label: string;
  scoreMaximum: number;
  tag: string;
  resourceLinkId?: string;
}

export interface AttendanceScore {
  userId: string;
  scoreGiven: number;
  scoreMaximum: number;
  comment: string;
}

export interface LmsServices {
  members(course: CourseServicesRef, options?: { resourceLinkId?: string }): Promise<MemberList>;
  /** The URL of the course's line item with this tag, if the tool created one before. */
  findLineItem(course: CourseServicesRef, tag: string, resourceLinkId?: string): Promise<string | undefined>;
  createLineItem(course: CourseServicesRef, item: NewLineItem): Promise<string>;
  /** Results of a line item, for one user or (userId undefined) everyone. */
  results(course: CourseServicesRef, lineItemUrl: string, userId?: string): Promise<LmsResult[]>;
  submitScore(course: CourseServicesRef, lineItemUrl: string, score: AttendanceScore): Promise<void>;
}

/**
 * The course's line item with this tag (and resource link), made if the tool has none yet. Found
 * first, so a tool that lost its database does not give the gradebook a second column.
 */
export async function findOrCreateLineItem(lms: LmsServices, services: CourseServicesRef, item: NewLineItem): Promise<string> {
  return (await lms.findLineItem(services, item.tag, item.resourceLinkId)) ?? lms.createLineItem(services, item);
}

/**
 * Why an LMS call failed: `unreachable` (network, timeout, 5xx: try again later), `refused` (the
 * platform said no: scope not granted, 4xx), `invalid` (an answer that breaks the spec), or
 * `unsupported` (the platform does not offer the service to this course).
 */
export type LmsErrorKind = 'unreachable' | 'refused' | 'invalid' | 'unsupported';

export class LmsError extends Error {
  readonly kind: LmsErrorKind;
  readonly status: number | undefined;
  constructor(kind: LmsErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'LmsError';
    this.kind = kind;
    this.status = options.status;
  }
}
