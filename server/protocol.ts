// Messages between the widget and the server over socket.io, one zod schema each. The widget
// imports this file too, so both sides agree on every name and shape.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

const userId = z.string().uuid();
/** Below socket.io's message limit (64 KiB, maxHttpBufferSize); a browser's SDP is a few KiB. */
const sdp = z.string().min(1).max(60 * 1024);

export const MEDIA_SOURCES = ['camera', 'microphone', 'screen'] as const;
export type MediaSource = (typeof MEDIA_SOURCES)[number];

/** One track of the receiving connection: which m-line carries whose camera, microphone or screen. */
export interface StageTrack {
  mid: string;
  userId: string;
  name: string;
  kind: 'audio' | 'video';
  source: MediaSource;
}

/** What a publisher has switched on. */
export interface MediaState {
  userId: string;
  name: string;
  camera: boolean;
  microphone: boolean;
  screen: boolean;
}

/** STUN/TURN servers for the browser's RTCPeerConnection (TURN credentials expire). */
export interface IceServerInfo {
  urls: string[];
  username?: string;
  credential?: string;
}

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
  /**
   * Host or speaker: the browser's offer for its sending connection (first, renegotiated, or a
   * fresh connection after a network change), and what each of its tracks is (by track id).
   */
  'media:publish': z
    .object({
      sdp: sdp,
      sources: z.record(z.string().min(1).max(128), z.enum(MEDIA_SOURCES)).refine((r) => Object.keys(r).length <= 8, 'at most 8 tracks'),
      restart: z.boolean().optional(),
    })
    .strict(),
  /** Stop sending (closes the sending connection). */
  'media:unpublish': z.object({}).strict(),
  /** The receiving connection's offer (a fresh connection with `restart`, e.g. after ICE failed). */
  'media:subscribe': z.object({ restart: z.boolean().optional() }).strict(),
  /** The browser's answer to the latest offer of its receiving connection. */
  'media:answer': z.object({ sdp }).strict(),
  /** What the publisher has switched on, shown to everyone (muted microphone, camera off). */
  'media:state': z.object({ camera: z.boolean(), microphone: z.boolean(), screen: z.boolean() }).strict(),
} as const;

export type ClientEvent = keyof typeof clientEvents;
export type ClientPayload<E extends ClientEvent> = z.infer<(typeof clientEvents)[E]>;

/** Why someone may not be here, for the widget to say in the user's language (`reason` is English). */
export type RevocationCode = 'notEnrolled' | 'inactive' | 'deleted' | 'restricted' | 'notPaid' | 'unverified' | 'role' | 'paymentUnsupported' | 'roomFull';

export type Grant = 'host' | 'speaker' | 'attendee' | 'denied';
export type ClassStatus = 'scheduled' | 'live' | 'ended';

export type Ack<T = Record<string, never>> = ({ ok: true } & T) | { ok: false; error: string };

/** Client -> server events as socket.io's typings want them: a payload and an acknowledgement. */
export type ClientEmits = { [E in ClientEvent]: (payload: ClientPayload<E>, ack: (answer: Ack<Record<string, unknown>>) => void) => void };

/** Server -> client events. */
export interface ServerEvents {
  /** Sent once after the connection is accepted. */
  welcome: (state: { protocol: number; grant: Grant; reason: string; status: ClassStatus; participants: number; iceServers: IceServerInfo[] }) => void;
  'class:status': (state: { status: ClassStatus }) => void;
  'participants:count': (state: { count: number }) => void;
  /** Your grant changed (brought on stage, taken off). */
  'grant:changed': (state: { grant: Grant; reason: string }) => void;
  /** You may no longer be in this room; the server disconnects right after. */
  'access:revoked': (state: { reason: string; code?: RevocationCode }) => void;
  /** A new offer for your receiving connection (what is on stage changed): answer with media:answer. */
  'media:offer': (state: { sdp: string; tracks: StageTrack[] }) => void;
  /** One of your connections failed on the server's side and was closed: make a fresh one. */
  'media:failed': (state: { side: 'publisher' | 'subscriber'; reason: string }) => void;
  /** Someone's camera, microphone or screen was switched on or off (or they stopped publishing: all false). */
  'media:state': (state: MediaState) => void;
}

/** Validates a payload; answers the data or a message naming what is wrong. */
export function parseClientEvent<E extends ClientEvent>(event: E, payload: unknown): { ok: true; data: ClientPayload<E> } | { ok: false; error: string } {
  const result = clientEvents[event].safeParse(payload ?? {});
  if (result.success) return { ok: true, data: result.data as ClientPayload<E> };
  const issue = result.error.issues[0];
  return { ok: false, error: `invalid ${event}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'bad payload'}` };
}
