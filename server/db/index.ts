// Storage: one database (PGlite or PostgreSQL), its schema, and repositories over it.
import type { Orm } from './database.ts';
import { AccessDecisionRepository } from './repositories/access-decisions.ts';
import { ChatRepository } from './repositories/chat.ts';
import { ClassSessionRepository, StageRepository } from './repositories/classes.ts';
import { CourseRepository, RoomRepository } from './repositories/courses.ts';
import { HandRepository } from './repositories/hands.ts';
import { PollRepository } from './repositories/polls.ts';
import { QuestionRepository } from './repositories/questions.ts';
import { RecordingRepository } from './repositories/recordings.ts';
import { MembershipRepository, UserRepository } from './repositories/users.ts';

export { Database, DatabaseUnavailableError, describeError } from './database.ts';
export type { Orm } from './database.ts';
export { DataDirInUseError, DataDirLock, readLockOwner } from './data-dir-lock.ts';
export type { LockOwner } from './data-dir-lock.ts';
export type { AccessDecision, Grant, Refusal } from './repositories/access-decisions.ts';
export type { ChatEntry, ChatMessage, ChatMutes, ChatRole } from './repositories/chat.ts';
export type { RaisedHand } from './repositories/hands.ts';
export type { Poll, PollEntry, PollVoteOutcome } from './repositories/polls.ts';
export type { Question, QuestionEntry, VoteOutcome } from './repositories/questions.ts';
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
  questions: QuestionRepository;
  hands: HandRepository;
  polls: PollRepository;
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
    questions: new QuestionRepository(db),
    hands: new HandRepository(db),
    polls: new PollRepository(db),
    recordings: new RecordingRepository(db),
    stage: new StageRepository(db),
    classes: new ClassSessionRepository(db),
  };
}
