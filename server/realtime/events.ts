// How an admitted socket's events reach their handlers: each payload is validated by its schema,
// each sender checked against who may send the event (protocol/events.ts), every handler's outcome
// (or failure) becomes the one answer, whatever arguments the event arrived with, and events
// nobody handles are refused by name rather than ignored.
import { AccessRefusedError, RoomNotFoundError } from '../access/index.ts';
import type { Logger } from '../logger/index.ts';
import { CLIENT_EVENTS, parseClientEvent, senderOf, type Ack, type ClientEvent, type Sender } from '../protocol/index.ts';
import { ClassRefusal, type Participant } from '../rooms/index.ts';
import type { LiveSocket } from './hub.ts';

const KNOWN_EVENTS = new Set<string>(CLIENT_EVENTS);

const REFUSED: Record<Exclude<Sender, 'anyone'>, string> = {
  host: 'only a host can do this',
  stage: 'only the instructor and participants brought on stage can share camera, microphone or screen',
};

function mayEmit(from: Sender, participant: Participant): boolean {
  return from === 'anyone' || (from === 'host' ? participant.grant === 'host' : participant.onStage);
}

/**
 * The one place a handler's failure becomes an acknowledgement: a refusal the participant can act on
 * says why; anything else is logged and answered in neutral words (no stack, no SQL).
 */
export function failureAck(error: unknown, logger: Logger, where: Record<string, unknown>): Ack {
  if (error instanceof ClassRefusal) return { ok: false, error: error.message, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) };
  if (error instanceof AccessRefusedError) return { ok: false, error: error.message };
  if (error instanceof RoomNotFoundError) return { ok: false, error: 'this live class was removed from the course' };
  // The recorder's refusals (recordings/: FFmpeg missing, the disk nearly full) are written for hosts.
  if (error instanceof Error && error.name === 'RecordingError') return { ok: false, error: error.message };
  logger.error({ err: error, ...where }, 'socket event failed');
  return { ok: false, error: 'something went wrong on our side; it has been logged' };
}

/** Calls an acknowledgement at most once, and never lets it throw. */
function replier(ack: unknown, logger: Logger, where: Record<string, unknown>): (answer: Ack<Record<string, unknown>>) => void {
  let answered = false;
  return (answer) => {
    if (answered || typeof ack !== 'function') return;
    answered = true;
    try {
      (ack as (a: Ack<Record<string, unknown>>) => void)(answer);
    } catch (error) {
      logger.warn({ err: error, ...where }, 'answering a socket event failed');
    }
  };
}

/** Answers every event a socket sends before it is admitted (its handlers come after the access check): "still joining". */
export function answerUntilAdmitted(socket: LiveSocket, logger: Logger): () => void {
  const early = (_event: unknown, ...args: unknown[]) => {
    replier(args.at(-1), logger, {})({ ok: false, error: 'you are still joining the class; try again in a moment' });
  };
  socket.onAny(early);
  return () => socket.offAny(early);
}

export type Dispatch = (event: ClientEvent, data: unknown) => Promise<object>;

/**
 * Binds every client event of the protocol on an admitted socket to `dispatch` (the handler
 * table), and answers unknown ones. socket.io hands a listener the event's arguments as sent, the
 * acknowledgement (if the client asked for one) last: anything but one payload is refused.
 */
export function bindEvents(socket: LiveSocket, participant: Participant, dispatch: Dispatch, logger: Logger): void {
  const where = { room: participant.seat.roomId, user: participant.userId };
  socket.onAny((event: unknown, ...args: unknown[]) => {
    // The wire allows any JSON value as an event name, numbers included.
    if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
    replier(args.at(-1), logger, where)({ ok: false, error: `unknown event ${JSON.stringify(String(event).slice(0, 40))}` });
  });
  for (const event of CLIENT_EVENTS) {
    const from = senderOf(event);
    socket.on(event, (...args: unknown[]) => {
      const reply = replier(typeof args.at(-1) === 'function' ? args.pop() : undefined, logger, { ...where, event });
      if (args.length > 1) return reply({ ok: false, error: `invalid ${event}: send one payload object (got ${args.length} arguments)` });
      const parsed = parseClientEvent(event, args[0]);
      if (!parsed.ok) return reply(parsed);
      if (!mayEmit(from, participant)) return reply({ ok: false, error: REFUSED[from as Exclude<Sender, 'anyone'>] });
      let pending: Promise<object>;
      try {
        pending = dispatch(event, parsed.data);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (answer) => reply({ ok: true, ...answer }),
        (error: unknown) => reply(failureAck(error, logger, { ...where, event })),
      );
    });
  }
}
