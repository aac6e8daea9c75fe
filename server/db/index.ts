// Storage: one database (PGlite or PostgreSQL), its schema, and repositories over it.
import type { Orm } from './database.ts';
import { AccessDecisionRepository } from './repositories/access-decisions.ts';
import { ChatRepository } from './repositories/chat.ts';
import { ClassSessionRepository, StageRepository } from './repositories/classes.ts';
import { CourseRepository, RoomRepository } from './repositories/courses.ts';
import { RecordingRepository } from './repositories/recordings.ts';
import { MembershipRepository, UserRepository } from './repositories/users.ts';

export { Database, DatabaseUnavailableError, describeError } from './database.ts';
export type { Orm } from './database.ts';
export { DataDirInUseError, DataDirLock, readLockOwner } from './data-dir-lock.ts';
export type { LockOwner } from './data-dir-lock.ts';
export type { AccessDecision, Grant, Refusal } from './repositories/access-decisions.ts';
export type { ChatMessage } from './repositories/chat.ts';
export type { ClassSession, Presence } from './repositories/classes.ts';
export type { Course, CourseKey, CourseServices, CourseSettings, Room, RoomSettings } from './repositories/courses.ts';
export type { Recording } from './repositories/recordings.ts';
export type { Membership, MembershipStatus, User } from './repositories/users.ts';

export interface Repositories {
  courses: CourseRepository;
  rooms: RoomRepository;
  users: UserRepository;
  memberships: MembershipRepository;
  accessDecisions: AccessDecisionRepository;
  chat: ChatRepository;
  recordings: RecordingRepository;
  stage: StageRepository;
  classes: ClassSessionRepository;
}

export function createRepositories(db: Orm): Repositories {
  return {
    courses: new CourseRepository(db),
    rooms: new RoomRepository(db),
    users: new UserRepository(db),
    memberships: new MembershipRepository(db),
    accessDecisions: new AccessDecisionRepository(db),
    chat: new ChatRepository(db),
    recordings: new RecordingRepository(db),
    stage: new StageRepository(db),
    classes: new ClassSessionRepository(db),
  };
}
