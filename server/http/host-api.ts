// What hosts (and LMS administrators, who launch as hosts) manage over HTTP: a room's access
// settings and who was refused and why. Authenticated by the seat token of a host's launch.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { AccessService } from '../access/index.ts';
import type { Repositories, Refusal } from '../db/index.ts';
import { exportInteraction } from '../rooms/index.ts';
import type { Logger } from '../logger/index.ts';
import { HttpError } from './errors.ts';

export interface HostApiDependencies {
  seats: { verify(token: string): { userId: string; roomId: string } };
  logger: Logger;
  access: AccessService;
  repositories: () => Repositories;
}

const settingsBody = z
  .object({
    policy: z.enum(['enrolled', 'paid']).optional(),
    /** Fraction of the fee line item's maximum, (0, 1]. */
    paidThreshold: z.number().gt(0).max(1).nullable().optional(),
    /** Every room of the course requires payment. */
    coursePaymentRequired: z.boolean().optional(),
    coursePaidThreshold: z.number().gt(0).max(1).nullable().optional(),
    attendance: z.boolean().optional(),
    /** Most participants at once (hosts excepted); null: the server's ROOM_SEAT_LIMIT. */
    seatLimit: z.number().int().min(1).max(100_000).nullable().optional(),
    /** Start recording when the class goes live. */
    autoRecord: z.boolean().optional(),
  })
  .strict();

function refusalJson(r: Refusal) {
  return { userId: r.userId, name: r.name, roomId: r.roomId, roomTitle: r.roomTitle, reason: r.reason, source: r.source, decidedAt: r.decidedAt.toISOString() };
}

export function createHostApi(deps: HostApiDependencies): Router {
  const router = express.Router();
  router.use(express.json({ limit: '8kb' }));
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  /** The host behind the request's seat token, with the room and course it holds. */
  const host = async (req: Request) => {
    const { access } = deps;
    const repos = deps.repositories();
    const header = req.get('authorization') ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    if (!token) throw new HttpError(401, 'Send the seat token of your launch as "Authorization: Bearer <token>".');
    let seat: { userId: string; roomId: string };
    try {
      seat = deps.seats.verify(token);
    } catch (error) {
      throw new HttpError(401, (error as Error).message);
    }
    const room = await repos.rooms.get(seat.roomId);
    if (!room) throw new HttpError(404, 'This room no longer exists.');
    const decision = await access.decide(seat.userId, seat.roomId, 'recheck');
    if (decision.grant !== 'host') throw new HttpError(403, 'Only the course\'s instructors can do this.');
    return { seat, room, repos, access };
  };
  const wrap = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };

  router.get('/rooms/:roomId/refusals', wrap(async (req, res) => {
    const { seat, repos } = await host(req);
    if (req.params.roomId !== seat.roomId) throw new HttpError(403, 'Your seat is for another room.');
    res.json({ refusals: (await repos.accessDecisions.listRefusals({ roomId: seat.roomId })).map(refusalJson) });
  }));

  // The room's chat, questions, hands and polls, for the instructor's records (names of anonymous
  // askers and deleted messages included, so hosts only).
  router.get('/rooms/:roomId/interaction.:format', wrap(async (req, res) => {
    const { seat, repos } = await host(req);
    if (req.params.roomId !== seat.roomId) throw new HttpError(403, 'Your seat is for another room.');
    const format = req.params.format;
    if (format !== 'csv' && format !== 'json') throw new HttpError(404, 'Ask for interaction.csv or interaction.json.');
    const file = await exportInteraction(repos, seat.roomId, format);
    res.setHeader('Content-Disposition', `attachment; filename="${file.filename}"`);
    res.type(file.contentType).send(file.body);
  }));

  router.get('/courses/:courseId/refusals', wrap(async (req, res) => {
    const { room, repos } = await host(req);
    if (req.params.courseId !== room.courseId) throw new HttpError(403, 'Your seat is for another course.');
    res.json({ refusals: (await repos.accessDecisions.listRefusals({ courseId: room.courseId })).map(refusalJson) });
  }));

  const settingsOf = async (repos: Repositories, roomId: string) => {
    const room = await repos.rooms.get(roomId);
    const course = room && (await repos.courses.get(room.courseId));
    if (!room || !course) throw new HttpError(404, 'This room no longer exists.');
    return {
      roomId: room.id,
      courseId: course.id,
      policy: room.policy,
      paidThreshold: room.paidThreshold,
      coursePaymentRequired: course.paymentRequired,
      coursePaidThreshold: course.paidThreshold,
      attendance: room.attendanceEnabled,
      seatLimit: room.seatLimit,
      autoRecord: room.autoRecord,
      feeLineItem: course.paidLineItemUrl,
    };
  };

  router.get('/rooms/:roomId/settings', wrap(async (req, res) => {
    const { seat, repos } = await host(req);
    if (req.params.roomId !== seat.roomId) throw new HttpError(403, 'Your seat is for another room.');
    res.json(await settingsOf(repos, seat.roomId));
  }));

  router.patch('/rooms/:roomId/settings', wrap(async (req, res) => {
    const { seat, room, repos, access } = await host(req);
    if (req.params.roomId !== seat.roomId) throw new HttpError(403, 'Your seat is for another room.');
    const parsed = settingsBody.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, `Invalid settings: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'unreadable body'}`);
    }
    const s = parsed.data;
    await repos.rooms.update(room.id, {
      ...(s.policy !== undefined ? { policy: s.policy } : {}),
      ...(s.paidThreshold !== undefined ? { paidThreshold: s.paidThreshold } : {}),
      ...(s.attendance !== undefined ? { attendanceEnabled: s.attendance } : {}),
      ...(s.seatLimit !== undefined ? { seatLimit: s.seatLimit } : {}),
      ...(s.autoRecord !== undefined ? { autoRecord: s.autoRecord } : {}),
    });
    if (s.coursePaymentRequired !== undefined || s.coursePaidThreshold !== undefined) {
      await repos.courses.update(room.courseId, {
        ...(s.coursePaymentRequired !== undefined ? { paymentRequired: s.coursePaymentRequired } : {}),
        ...(s.coursePaidThreshold !== undefined ? { paidThreshold: s.coursePaidThreshold } : {}),
      });
    }
    access.forget(room.courseId);
    const settings = await settingsOf(repos, room.id);
    if ((settings.policy === 'paid' || settings.coursePaymentRequired) && !settings.feeLineItem) {
      // Create the "Course fee paid" column now, so the instructor sees it in the gradebook at once.
      const course = await repos.courses.get(room.courseId);
      if (course) {
        try {
          settings.feeLineItem = await access.paidLineItem(course);
        } catch (error) {
          // The LMS's own words (and its URLs) go to the log; the instructor is told what to expect.
          deps.logger.warn({ err: error, room: room.id }, 'the course fee line item could not be created');
          res.status(200).json({ ...settings, warning: 'The gate is on, but the "Course fee paid" grade item could not be created yet: the LMS refused or did not answer. Live Classroom tries again at the next launch; check that the tool may manage grade items (AGS) in the LMS.' });
          return;
        }
      }
    }
    res.json(settings);
  }));
  return router;
}
