// How a socket's events are bound: each payload is validated by its zod schema before the handler
// sees it, every handler's outcome (or failure) becomes the acknowledgement, and events nobody
// handles are refused by name rather than ignored.
import type { Socket } from 'socket.io';
import { AccessRefusedError, RoomNotFoundError } from '../access/index.ts';
import type { Logger } from '../logger.ts';
import { clientEvents, parseClientEvent, type Ack } from '../protocol/index.ts';
import { InteractionError, type Bind } from './interaction.ts';
import { SignalingError } from './media.ts';

const KNOWN_EVENTS = new Set(Object.keys(clientEvents));

/** The binder for one socket; also answers unknown events with an error. */
export function eventBinder(socket: Socket, logger: Logger, seat: { roomId: string; userId: string }): Bind {
  socket.onAny((event: unknown, ...args: unknown[]) => {
    // The wire allows any JSON value as an event name, numbers included.
    const name = String(event);
    if (typeof event === 'string' && KNOWN_EVENTS.has(name)) return;
    const ack = args.at(-1);
    if (typeof ack !== 'function') return;
    try {
      (ack as (a: Ack) => void)({ ok: false, error: `unknown event ${JSON.stringify(name.slice(0, 40))}` });
    } catch (error) {
      logger.warn({ err: error, room: seat.roomId, user: seat.userId }, 'answering an unknown socket event failed');
    }
  });
  return (event, handler) => {
    // socket.io hands a listener the event's arguments as sent, the acknowledgement (if the client
    // asked for one) last. A client may send no payload, or extra arguments: the acknowledgement is
    // always the last argument when it is a function, and anything but one payload is refused.
    socket.on(event as string, (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (a: Ack<Record<string, unknown>>) => void) : undefined;
      let answered = false;
      const reply = (answer: Ack<Record<string, unknown>>): void => {
        if (answered || ack === undefined) return;
        answered = true;
        try {
          ack(answer);
        } catch (error) {
          logger.warn({ err: error, event, room: seat.roomId, user: seat.userId }, 'answering a socket event failed');
        }
      };
      if (args.length > 1) return reply({ ok: false, error: `invalid ${event}: send one payload object (got ${args.length} arguments)` });
      const parsed = parseClientEvent(event, args[0]);
      if (!parsed.ok) return reply(parsed);
      let pending: Promise<Ack<Record<string, unknown>>>;
      try {
        pending = handler(parsed);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(reply, (error: unknown) => reply(failureAck(error, logger, { event, room: seat.roomId, user: seat.userId })));
    });
  };
}

/**
 * The one place a handler's failure becomes an acknowledgement: a refusal the participant can act on
 * says why; anything else is logged and answered in neutral words (no stack, no SQL).
 */
export function failureAck(error: unknown, logger: Logger, where: Record<string, unknown>): Ack {
  if (error instanceof InteractionError) return error.toAck();
  if (error instanceof AccessRefusedError || error instanceof SignalingError) return { ok: false, error: error.message };
  if (error instanceof RoomNotFoundError) return { ok: false, error: 'this live class was removed from the course' };
  logger.error({ err: error, ...where }, 'socket event failed');
  return { ok: false, error: 'something went wrong on our side; it has been logged' };
}
