// Deep Linking: an instructor picks Live Classroom in the LMS's "add activity / external tool"
// picker, fills in a small form, and the platform receives one LtiResourceLink content item.
// The room's settings travel in the link's custom parameters, which the platform signs into every
// later launch of that link; the first launch creates the room with them.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { RoomSettings } from '../server/db/index.ts';
import type { Logger } from '../server/logger/index.ts';
import { deepLinkFormPage, deepLinkReturnPage, problemPage, type DeepLinkFormValues } from './pages.ts';
import type { LtijsToken } from './provider.ts';
import { roleGrant } from '../server/access/index.ts';

/** The custom parameter names a placed link carries (lower case: Canvas lower-cases custom keys). */
export const CUSTOM = {
  policy: 'live_classroom_policy',
  startsAt: 'live_classroom_starts_at',
  duration: 'live_classroom_duration_minutes',
  threshold: 'live_classroom_paid_threshold',
  attendance: 'live_classroom_attendance',
} as const;

const RESOURCE_LINK = 'ltiResourceLink';
export const MAX_TITLE = 200;
export const MAX_DURATION_MINUTES = 12 * 60;

const form = z.object({
  title: z
    .string()
    .trim()
    .min(1, 'Give the class a title.')
    .max(MAX_TITLE, `The title can be at most ${MAX_TITLE} characters.`),
  // The browser's script fills starts_at_iso from the local date and time; without script the
  // datetime-local value is read as UTC, which the form says.
  starts_at: z.string().trim().optional(),
  starts_at_iso: z.string().trim().optional(),
  duration: z.coerce
    .number({ error: 'The duration must be a number of minutes.' })
    .int('The duration must be a whole number of minutes.')
    .min(5, 'A class lasts at least 5 minutes.')
    .max(MAX_DURATION_MINUTES, `A class lasts at most ${MAX_DURATION_MINUTES} minutes.`),
  policy: z.enum(['enrolled', 'paid'], { error: 'Choose who may join: enrolled students, or students who paid.' }),
  threshold: z.coerce
    .number({ error: 'The paid threshold must be a percentage.' })
    .min(1, 'The paid threshold is between 1 and 100 percent.')
    .max(100, 'The paid threshold is between 1 and 100 percent.')
    .optional(),
  attendance: z.literal('on').optional(),
});

export interface PlacedClass {
  title: string;
  startsAt: Date | undefined;
  durationMinutes: number;
  policy: 'enrolled' | 'paid';
  /** Fraction of the line item's maximum score, for paid rooms. */
  paidThreshold: number | undefined;
  /** Send each student's minutes present to the gradebook when a class ends. */
  attendance: boolean;
}

function parseStart(iso: string | undefined, local: string | undefined): Date | undefined | 'invalid' {
  const value = iso || (local ? `${local.length === 16 ? `${local}:00` : local}Z` : '');
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? 'invalid' : date;
}

/** Reads the form; answers the values or the first problem, in words for the instructor. */
export function readPlacementForm(body: unknown): { ok: true; placed: PlacedClass } | { ok: false; problem: string } {
  const raw = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const input = { ...raw, threshold: raw.threshold === '' ? undefined : raw.threshold };
  const parsed = form.safeParse(input);
  if (!parsed.success) return { ok: false, problem: parsed.error.issues[0]?.message ?? 'The form is incomplete.' };
  const startsAt = parseStart(parsed.data.starts_at_iso, parsed.data.starts_at);
  if (startsAt === 'invalid') return { ok: false, problem: 'The start date and time could not be read.' };
  const { title, duration, policy, threshold, attendance } = parsed.data;
  return {
    ok: true,
    placed: {
      title,
      startsAt,
      durationMinutes: duration,
      policy,
      paidThreshold: policy === 'paid' ? (threshold ?? 100) / 100 : undefined,
      attendance: attendance === 'on',
    },
  };
}

/** The LtiResourceLink content item for a placed class. */
export function contentItem(placed: PlacedClass, launchUrl: string): Record<string, unknown> {
  const custom: Record<string, string> = {
    [CUSTOM.policy]: placed.policy,
    [CUSTOM.duration]: String(placed.durationMinutes),
  };
  if (placed.startsAt) custom[CUSTOM.startsAt] = placed.startsAt.toISOString();
  if (placed.paidThreshold !== undefined) custom[CUSTOM.threshold] = String(placed.paidThreshold);
  if (placed.attendance) custom[CUSTOM.attendance] = 'true';
  const when = placed.startsAt ? `starts ${placed.startsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` : '';
  const who = placed.policy === 'paid' ? 'students who paid' : 'enrolled students';
  return {
    type: RESOURCE_LINK,
    title: placed.title,
    text: `Live class: ${when}${placed.durationMinutes} minutes, for ${who}.`,
    url: launchUrl,
    custom,
  };
}

const customSchema = z.object({
  [CUSTOM.policy]: z.enum(['enrolled', 'paid']).optional().catch(undefined),
  [CUSTOM.startsAt]: z.iso.datetime({ offset: true }).optional().catch(undefined),
  [CUSTOM.duration]: z.coerce.number().int().min(1).max(MAX_DURATION_MINUTES).optional().catch(undefined),
  [CUSTOM.threshold]: z.coerce.number().gt(0).max(1).optional().catch(undefined),
  [CUSTOM.attendance]: z.enum(['true', 'false']).optional().catch(undefined),
});

/** The room settings a launch's custom claim carries (set by Deep Linking); unknown or bad values are ignored. */
export function roomSettingsFromCustom(custom: Record<string, unknown> | undefined): RoomSettings {
  if (!custom) return {};
  const parsed = customSchema.parse(custom);
  const settings: RoomSettings = {};
  const policy = parsed[CUSTOM.policy];
  if (policy) settings.policy = policy;
  const startsAt = parsed[CUSTOM.startsAt];
  if (startsAt) settings.scheduledStart = new Date(startsAt);
  const duration = parsed[CUSTOM.duration];
  if (duration !== undefined) settings.durationMinutes = duration;
  const threshold = parsed[CUSTOM.threshold];
  if (policy === 'paid') settings.paidThreshold = threshold ?? 1;
  if (parsed[CUSTOM.attendance] === 'true') settings.attendanceEnabled = true;
  return settings;
}

interface DeepLinkingContext {
  token: LtijsToken;
  ltik: string;
}

function contextOf(res: Response): DeepLinkingContext | undefined {
  const token = res.locals.token as LtijsToken | undefined;
  const ltik = res.locals.ltik as string | undefined;
  if (!token || !ltik) return undefined;
  return { token, ltik };
}

export interface DeepLinkingDependencies {
  launchUrl: string;
  /** The path the form posts to, relative to the LTI mount. */
  submitPath: string;
  logger: Logger;
  signResponse(token: LtijsToken, items: Record<string, unknown>[], options: { message: string }): Promise<string>;
}

/** Handlers for the picker launch (shows the form) and the form's submission (returns the link). */
export function deepLinking({ launchUrl, submitPath, logger, signResponse }: DeepLinkingDependencies) {
  const refuse = (res: Response, status: number, title: string, explanation: string) => {
    logger.warn({ status }, `deep linking refused: ${explanation}`);
    res.status(status).type('html').send(problemPage(title, explanation));
  };

  /** Checks the launch may place a link; answers the reason it may not. */
  const obstacle = (token: LtijsToken): string | undefined => {
    const settings = token.platformContext.deepLinkingSettings as { accept_types?: unknown; deep_link_return_url?: unknown } | undefined;
    if (!settings || typeof settings.deep_link_return_url !== 'string') return 'The LMS sent no deep linking settings, so there is nowhere to return a link to.';
    const accepted = Array.isArray(settings.accept_types) ? settings.accept_types : [];
    if (!accepted.includes(RESOURCE_LINK)) return `The LMS does not accept links to activities here (it accepts: ${accepted.join(', ') || 'nothing'}).`;
    return undefined;
  };

  const showForm = (token: LtijsToken, ltik: string, res: Response, values: DeepLinkFormValues, problem?: string) => {
    res
      .status(problem ? 422 : 200)
      .type('html')
      .send(deepLinkFormPage({ action: submitPath, ltik, courseTitle: token.platformContext.context?.title ?? '', values, problem }));
  };

  const onRequest = (token: LtijsToken, _req: Request, res: Response): void => {
    const ctx = contextOf(res);
    if (!ctx) return refuse(res, 401, 'This request could not be verified', 'Open the tool picker again from the course page.');
    if (roleGrant(token.platformContext.roles).grant !== 'host') {
      return refuse(res, 403, 'Only course staff can place a live class', 'Ask an instructor of this course to add the live class.');
    }
    const reason = obstacle(token);
    if (reason) return refuse(res, 400, 'A live class cannot be placed here', reason);
    showForm(token, ctx.ltik, res, { title: token.platformContext.resource?.title ?? 'Live class', duration: '60', policy: 'enrolled', threshold: '100' });
  };

  const onSubmit = async (req: Request, res: Response): Promise<void> => {
    const ctx = contextOf(res);
    if (!ctx) return refuse(res, 401, 'This request could not be verified', 'Open the tool picker again from the course page.');
    const { token, ltik } = ctx;
    if (token.platformContext.messageType !== 'LtiDeepLinkingRequest') {
      return refuse(res, 400, 'Not a deep linking request', 'This form only works from the LMS\'s "add activity / external tool" picker.');
    }
    if (roleGrant(token.platformContext.roles).grant !== 'host') {
      return refuse(res, 403, 'Only course staff can place a live class', 'Ask an instructor of this course to add the live class.');
    }
    const reason = obstacle(token);
    if (reason) return refuse(res, 400, 'A live class cannot be placed here', reason);
    const read = readPlacementForm(req.body);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const echo = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
    if (!read.ok) {
      return showForm(token, ltik, res, { title: echo('title'), startsAt: echo('starts_at'), duration: echo('duration'), policy: echo('policy'), threshold: echo('threshold'), attendance: echo('attendance') === 'on' }, read.problem);
    }
    const item = contentItem(read.placed, launchUrl);
    const jwt = await signResponse(token, [item], { message: `Live class "${read.placed.title}" added.` });
    const settings = token.platformContext.deepLinkingSettings as { deep_link_return_url: string };
    logger.info({ issuer: token.iss, context: token.platformContext.context?.id, policy: read.placed.policy }, 'live class placed with deep linking');
    res.status(200).type('html').send(deepLinkReturnPage(settings.deep_link_return_url, jwt, read.placed.title));
  };

  return { onRequest, onSubmit };
}
