// The tool's tables. Change this file, then run `npm run db:generate` to write the next
// versioned migration into server/db/migrations (applied at start-up).
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const accessPolicy = pgEnum('access_policy', ['enrolled', 'paid']);
export const roomStatus = pgEnum('room_status', ['scheduled', 'live', 'ended']);
export const membershipStatus = pgEnum('membership_status', ['active', 'inactive', 'deleted']);
export const grantKind = pgEnum('grant_kind', ['host', 'speaker', 'attendee', 'denied']);
export const questionState = pgEnum('question_state', ['open', 'answered']);
export const pollState = pgEnum('poll_state', ['open', 'closed']);
export const recordingStatus = pgEnum('recording_status', ['recording', 'ready', 'interrupted', 'failed']);

/** An LTI context (a course section) of one deployment on one platform. */
export const courses = pgTable(
  'courses',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    issuer: text('issuer').notNull(),
    deploymentId: text('deployment_id').notNull(),
    contextId: text('context_id').notNull(),
    title: text('title').notNull().default(''),
    label: text('label'),
    /** The tool's client id on the platform, to ask its services for an access token. */
    clientId: text('client_id'),
    /** NRPS membership URL from the last launch that offered it. */
    nrpsUrl: text('nrps_url'),
    /** AGS line items URL and the scopes the platform offered, from the last launch. */
    agsLineItemsUrl: text('ags_line_items_url'),
    agsScopes: text('ags_scopes').array().notNull().default(sql`'{}'::text[]`),
    /** Every room of the course requires payment (a room can also require it on its own). */
    paymentRequired: boolean('payment_required').notNull().default(false),
    /** Course-wide threshold, as a fraction of the fee line item's maximum; null = full score. */
    paidThreshold: real('paid_threshold'),
    /** The AGS line item the LMS or the shop scores when a student pays (created by the tool once). */
    paidLineItemUrl: text('paid_line_item_url'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('courses_lti_context').on(t.issuer, t.deploymentId, t.contextId),
    check('courses_paid_threshold_range', sql`${t.paidThreshold} is null or (${t.paidThreshold} > 0 and ${t.paidThreshold} <= 1)`),
  ],
);

/** A person as one platform knows them (`sub` is stable per issuer). */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    name: text('name').notNull().default(''),
    email: text('email'),
    locale: text('locale'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('users_lti_subject').on(t.issuer, t.subject)],
);

/** A live class: one LTI resource link placed in a course. */
export const rooms = pgTable(
  'rooms',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    courseId: uuid('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    resourceLinkId: text('resource_link_id').notNull(),
    title: text('title').notNull().default(''),
    policy: accessPolicy('policy').notNull().default('enrolled'),
    /** For `paid` rooms: the minimum score, as a fraction of the line item's maximum (1 = full score). */
    paidThreshold: real('paid_threshold'),
    scheduledStart: timestamp('scheduled_start', { withTimezone: true }),
    durationMinutes: integer('duration_minutes'),
    status: roomStatus('status').notNull().default('scheduled'),
    /** Send each attendee's minutes present to the LMS gradebook when a class ends. */
    attendanceEnabled: boolean('attendance_enabled').notNull().default(false),
    attendanceLineItemUrl: text('attendance_line_item_url'),
    /** Most participants at once (hosts excepted); null means the node's ROOM_SEAT_LIMIT. */
    seatLimit: integer('seat_limit'),
    /** Start recording when the class goes live (a host can still stop it). */
    autoRecord: boolean('auto_record').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('rooms_resource_link').on(t.courseId, t.resourceLinkId),
    check('rooms_paid_threshold_range', sql`${t.paidThreshold} is null or (${t.paidThreshold} > 0 and ${t.paidThreshold} <= 1)`),
    check('rooms_duration_positive', sql`${t.durationMinutes} is null or ${t.durationMinutes} > 0`),
    check('rooms_seat_limit_positive', sql`${t.seatLimit} is null or ${t.seatLimit} > 0`),
  ],
);

/** Who belongs to a course, with the roles and status the LMS last reported. */
export const memberships = pgTable(
  'memberships',
  {
    courseId: uuid('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    status: membershipStatus('status').notNull().default('active'),
    /** Where the status came from: `launch` or `nrps`. */
    source: text('source').notNull(),
    /** Last time the LMS confirmed this learner paid (AGS); lets a paid room admit them for 24 h while the LMS is down. */
    paidVerifiedAt: timestamp('paid_verified_at', { withTimezone: true }),
    /** The score, as a fraction of the maximum, that the LMS confirmed then; the grace applies only where it met the threshold. */
    paidFraction: real('paid_fraction'),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.courseId, t.userId] })],
);

/** Every access decision, kept so an instructor can see why a student was refused. */
export const accessDecisions = pgTable(
  'access_decisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    grant: grantKind('grant').notNull(),
    reason: text('reason').notNull(),
    /** What the decision rests on: `launch`, `nrps`, `ags`, `cache`, `fallback`. */
    source: text('source').notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('access_decisions_room_time').on(t.roomId, t.decidedAt)],
);

/** Attendees a host brought on stage (they may publish as `speaker`s until taken off). */
export const stage = pgTable(
  'stage',
  {
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    addedBy: uuid('added_by').references(() => users.id, { onDelete: 'set null' }),
    addedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

/** One live class of a room: from "go live" to "end class". */
export const classSessions = pgTable(
  'class_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    /** When the attendance scores reached the LMS, or why they did not. */
    attendanceSentAt: timestamp('attendance_sent_at', { withTimezone: true }),
    attendanceProblem: text('attendance_problem'),
    /**
     * This class is being recorded: set when its recording starts, cleared when a host stops it or
     * it fails. A recording closed by a node that shut down (drained, restarted) keeps it, so the
     * node that takes the class over records on.
     */
    recording: boolean('recording').notNull().default(false),
  },
  (t) => [
    index('class_sessions_room').on(t.roomId, t.startedAt),
    // At most one class in progress per room, whoever presses "Go live" and however often.
    uniqueIndex('class_sessions_one_live').on(t.roomId).where(sql`${t.endedAt} is null`),
  ],
);

/** Presence in a class: one row per stretch a participant was in the room. */
export const attendance = pgTable(
  'attendance',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => classSessions.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
    leftAt: timestamp('left_at', { withTimezone: true }),
  },
  (t) => [index('attendance_session_user').on(t.sessionId, t.userId)],
);

export const chatMessages = pgTable(
  'chat_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    body: text('body').notNull(),
    /** The author's grant when they wrote it (the role badge beside the message). */
    role: grantKind('role').notNull().default('attendee'),
    createdAt: createdAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    deletedBy: uuid('deleted_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [index('chat_messages_room').on(t.roomId, t.id)],
);

/** Who may not chat in a room: one row per muted participant, and a row without a user for the whole room. */
export const chatMutes = pgTable(
  'chat_mutes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    /** Null: the whole room's chat is muted (hosts can still write). */
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    mutedBy: uuid('muted_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [unique('chat_mutes_room_user').on(t.roomId, t.userId).nullsNotDistinct()],
);

/** Raised hands, in the order they were raised (`id`); a row goes when the hand is lowered or its owner is brought on stage. */
export const hands = pgTable(
  'hands',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    raisedAt: timestamp('raised_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('hands_room_user').on(t.roomId, t.userId), index('hands_room_order').on(t.roomId, t.id)],
);

/** A host's single-choice question with 2 to 6 options. */
export const polls = pgTable(
  'polls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    question: text('question').notNull(),
    options: text('options').array().notNull(),
    state: pollState('state').notNull().default('open'),
    /** The host showed the results to students. */
    shared: boolean('shared').notNull().default(false),
    createdAt: createdAt(),
    closedAt: timestamp('closed_at', { withTimezone: true }),
  },
  (t) => [
    index('polls_room').on(t.roomId, t.id),
    check('polls_option_count', sql`cardinality(${t.options}) between 2 and 6`),
  ],
);

/** One vote per participant and poll. */
export const pollVotes = pgTable(
  'poll_votes',
  {
    pollId: bigint('poll_id', { mode: 'number' })
      .notNull()
      .references(() => polls.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    option: integer('option').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.pollId, t.userId] }), check('poll_votes_option_range', sql`${t.option} >= 0 and ${t.option} < 6`)],
);

export const questions = pgTable(
  'questions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    body: text('body').notNull(),
    /** Hidden from other students, never from hosts. */
    anonymous: boolean('anonymous').notNull().default(false),
    state: questionState('state').notNull().default('open'),
    pinned: boolean('pinned').notNull().default(false),
    createdAt: createdAt(),
    answeredAt: timestamp('answered_at', { withTimezone: true }),
  },
  (t) => [index('questions_room').on(t.roomId)],
);

export const questionVotes = pgTable(
  'question_votes',
  {
    questionId: bigint('question_id', { mode: 'number' })
      .notNull()
      .references(() => questions.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.questionId, t.userId] })],
);

export const recordings = pgTable(
  'recordings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    status: recordingStatus('status').notNull().default('recording'),
    /** Folder of the HLS playlist and segments, relative to RECORDINGS_DIR. */
    path: text('path').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    durationMs: integer('duration_ms'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    /** Why a recording stopped early (full disk, FFmpeg exited), shown to the host. */
    failureReason: text('failure_reason'),
  },
  (t) => [index('recordings_room').on(t.roomId, t.startedAt), uniqueIndex('recordings_path').on(t.path)],
);

/**
 * The documents ltijs keeps (platforms, keys, states, nonces, tokens), one row each, written only
 * by the ltijs database plugin in lti/. `fields` holds the document, or for encrypted collections
 * the lookup fields plus `iv` and `data`. Rows past `expires_at` are invisible and swept.
 */
export const ltiStore = pgTable(
  'lti_store',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    collection: text('collection').notNull(),
    fields: jsonb('fields').notNull().$type<Record<string, unknown>>(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [
    index('lti_store_collection').on(t.collection),
    index('lti_store_fields').using('gin', sql`${t.fields} jsonb_path_ops`),
    index('lti_store_expiry').on(t.expiresAt),
    // One row per nonce: a launch claims its nonce with one insert, and a replay (or two
    // concurrent posts of the same id_token) conflicts instead of racing a lookup.
    uniqueIndex('lti_store_nonce').on(sql`(${t.fields} ->> 'nonce')`).where(sql`${t.collection} = 'nonce'`),
  ],
);
