// Helpers for the class-interaction suites: participants joined through real launches, and a way
// to wait for the next server event that matches.
import assert from 'node:assert/strict';
import type { Socket } from 'socket.io-client';
import type { Service } from '../../server/service.ts';
import { connect, launchAs } from './classroom.ts';
import type { LaunchOptions, Platform } from './platform/index.ts';

export type Reply = { ok: true; [key: string]: unknown } | { ok: false; error: string; retryAfterMs?: number };

export interface Participant {
  socket: Socket;
  seat: string;
  userId: string;
  roomId: string;
  /** The node URLs the connection was sent to before it was admitted (see connect). */
  redirects: string[];
}

/**
 * Launches `user` into the room `room` and opens their socket on `service` (admitted, or the test fails).
 * `launch` adds to or overrides the launch's options (e.g. a context, a resource link title).
 */
export async function join(platform: Platform, service: Pick<Service, 'url' | 'seats'>, room: string, user: string, roles: 'instructor' | 'learner', launch: LaunchOptions = {}): Promise<Participant> {
  const launched = await launchAs(platform, { user: { id: `${room}-${user}`, name: user }, roles, resourceLink: { id: room }, ...launch });
  assert.ok(launched.seat, `${user} got a seat`);
  const admission = await connect(service as Service, launched.seat);
  assert.equal(admission.kind, 'welcome', `${user} is admitted: ${admission.kind === 'error' ? admission.message : admission.kind}`);
  const seat = service.seats.verify(launched.seat);
  return { socket: admission.socket, seat: launched.seat, userId: seat.userId, roomId: seat.roomId, redirects: admission.redirects };
}

/** The next `event` on `socket` whose payload passes `match` (5 s at most). */
export function next<T = Record<string, unknown>>(socket: Socket, event: string, match: (payload: T) => boolean = () => true, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** Collects every `event` on `socket` until stopped. */
export function collect<T = Record<string, unknown>>(socket: Socket, event: string): { items: T[]; stop(): void } {
  const items: T[] = [];
  const listener = (payload: T) => items.push(payload);
  socket.on(event, listener);
  return { items, stop: () => socket.off(event, listener) };
}
