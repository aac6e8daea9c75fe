// Access: who may enter a room, and attendance back to the LMS.
export { AccessRefusedError, AccessService, PAID_LINE_ITEM_LABEL, PAID_LINE_ITEM_MAXIMUM, PAID_LINE_ITEM_TAG, PersonNotFoundError, REASONS, RoomNotFoundError } from './access.ts';
export type { AccessSettings, Decision, DecisionSource, Person, RefusalCode, Trigger } from './access.ts';
export { ATTENDANCE_TAG, AttendanceReporter, minutes, presentMs } from './attendance.ts';
export type { AttendanceReport } from './attendance.ts';
export { LmsError } from './lms.ts';
export type { AttendanceScore, CourseServicesRef, LmsErrorKind, LmsMember, LmsResult, LmsServices, MemberList, NewLineItem } from './lms.ts';
export { parseRole, roleGrant } from './roles.ts';
export type { RoleDecision, RoleGrant } from './roles.ts';
