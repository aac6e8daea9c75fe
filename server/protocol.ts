// Messages between the widget and the server over socket.io, one zod schema each. The widget
// imports this file too, so both sides agree on every name and shape.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

const userId = z.string().uuid();

/** Client -> server events and their payloads. Every one is answered with an Ack. */
export const clientEvents = {
  /** Host: start the class (students waiting are joined at once). */
  'class:start': z.object({}).strict(),
  /** Host: end the class for everyone. */
  'class:end': z.object({}).strict(),
  /** Host: bring an attendee on stage, or take them off. */
  'stage:add': z.object({ userId }).strict(),
  'stage:remove': z.object({ userId }).strict(),
  /** A fresh seat token (they live minutes), for reconnecting after a network drop. */
  'seat:refresh': z.object({}).strict(),
} as const;

export type ClientEvent = keyof typeof clientEvents;
export type ClientPayload<E extends ClientEvent> = z.infer<(typeof clientEvents)[E]>;

export type Grant = 'host' | 'speaker' | 'attendee' | 'denied';
export type ClassStatus = 'scheduled' | 'live' | 'ended';

export type Ack<T = Record<string, never>> = ({ ok: true } & T) | { ok: false; error: string };

/** Client -> server events as socket.io's typings want them: a payload and an acknowledgement. */
export type ClientEmits = { [E in ClientEvent]: (payload: ClientPayload<E>, ack: (answer: Ack<Record<string, unknown>>) => void) => void };

/** Server -> client events. */
export interface ServerEvents {
  /** Sent once after the connection is accepted. */
  welcome: (state: { protocol: number; grant: Grant; reason: string; status: ClassStatus; participants: number }) => void;
  'class:status': (state: { status: ClassStatus }) => void;
  'participants:count': (state: { count: number }) => void;
  /** Your grant changed (brought on stage, taken off). */
  'grant:changed': (state: { grant: Grant; reason: string }) => void;
  /** You may no longer be in this room; the server disconnects right after. */
  'access:revoked': (state: { reason: string }) => void;
}

/** Validates a payload; answers the data or a message naming what is wrong. */
export function parseClientEvent<E extends ClientEvent>(event: E, payload: unknown): { ok: true; data: ClientPayload<E> } | { ok: false; error: string } {
  const result = clientEvents[event].safeParse(payload ?? {});
  if (result.success) return { ok: true, data: result.data as ClientPayload<E> };
  const issue = result.error.issues[0];
  return { ok: false, error: `invalid ${event}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'bad payload'}` };
}
