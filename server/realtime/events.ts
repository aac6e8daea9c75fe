// How a socket's events are bound: each payload is validated by its zod schema before the handler
// sees it, every handler's outcome (or failure) becomes the acknowledgement, and events nobody
// handles are refused by name rather than ignored.
import type { Socket } from 'socket.io';
import { AccessRefusedError } from '../access/index.ts';
import type { Logger } from '../logger.ts';
import { clientEvents, parseClientEvent, type Ack } from '../protocol.ts';
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
    if (typeof ack === 'function') (ack as (a: Ack) => void)({ ok: false, error: `unknown event ${JSON.stringify(name.slice(0, 40))}` });
  });
  return (event, handler) => {
    socket.on(event as string, (payload: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (a: Ack<Record<string, unknown>>) => void) : () => {};
      const parsed = parseClientEvent(event, payload);
      if (!parsed.ok) return reply(parsed);
      handler(parsed).then(reply, (error: unknown) => {
        if (error instanceof InteractionError) return reply(error.toAck());
        if (error instanceof AccessRefusedError || error instanceof SignalingError) return reply({ ok: false, error: error.message });
        logger.error({ err: error, event, room: seat.roomId, user: seat.userId }, 'socket event failed');
        reply({ ok: false, error: 'something went wrong on our side; it has been logged' });
      });
    });
  };
}
