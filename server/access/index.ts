// Access: who may enter a room (roles, enrollment, payment, the stage), and the LMS services it reads.
export { AccessRefusedError, AccessService, PAID_LINE_ITEM_LABEL, PAID_LINE_ITEM_MAXIMUM, PAID_LINE_ITEM_TAG, PersonNotFoundError, REASONS, RoomNotFoundError } from './access.ts';
export type { AccessSettings, Decision, DecisionSource, Person, RefusalCode, Trigger } from './access.ts';
export { courseServices, findOrCreateLineItem, LmsError } from './lms.ts';
export type { AttendanceScore, CourseServicesRef, LmsErrorKind, LmsMember, LmsResult, LmsServices, MemberList, NewLineItem } from './lms.ts';
export { parseRole, roleGrant } from './roles.ts';
export type { RoleDecision, RoleGrant } from './roles.ts';
export { SeatTokenError, SeatTokens, type Seat, type SeatRole } from './seat-token.ts';
