// The socket.io server of the node, typed with the protocol's maps, on the Redis adapter when
// several nodes share REDIS_URL (its channels then span every node). It is also the classes'
// audience: what they emit to a channel goes out here, and a grant changed on one node is told
// to the others.
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Decision } from '../access/index.ts';
import type { Logger } from '../logger/index.ts';
import type { ClientEvents, ServerEvents } from '../protocol/index.ts';
import type { Audience, Seat } from '../rooms/index.ts';
import { useRedisAdapter, type RedisLink } from './redis.ts';

/** Between nodes (Redis): a grant changed for a user of a room. */
export interface InterServerEvents {
  'lc:grant-changed': (roomId: string, userId: string, decision: Decision) => void;
}

/** What a socket is: the seat it was admitted with (also read across nodes by fetchSockets). */
export type SocketData = Seat;

export type LiveServer = Server<ClientEvents, ServerEvents, InterServerEvents, SocketData>;
export type LiveSocket = Socket<ClientEvents, ServerEvents, InterServerEvents, SocketData>;

/**
 * socket.io closes a connection whose message is larger than this (it cannot be answered). It is
 * above what any event may carry (an SDP is at most 60 KiB), so a payload past its field's limit
 * within it is refused by the event's schema, with an answer; it is read before the seat token is
 * checked, so it stays small.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** A silent network drop is noticed by missing pings in 10 to 20 s (socket.io's default: 25 to 45 s). */
const HEARTBEAT = { pingInterval: 10_000, pingTimeout: 10_000 };

export interface HubOptions {
  httpServer: HttpServer;
  logger: Logger;
  /** REDIS_URL: channels span every node through Redis. */
  redisUrl?: string | undefined;
  /** An origin besides the node's own that may open sockets (PUBLIC_URL, when NODE_URL is another). */
  corsOrigin?: string | undefined;
}

export class SocketHub {
  readonly io: LiveServer;
  readonly redis: RedisLink | undefined;
  readonly audience: Audience;
  #closing: Promise<void> | undefined;

  constructor({ httpServer, logger, redisUrl, corsOrigin }: HubOptions) {
    this.io = new Server<ClientEvents, ServerEvents, InterServerEvents, SocketData>(httpServer, {
      path: '/socket.io',
      serveClient: false,
      maxHttpBufferSize: MAX_MESSAGE_BYTES,
      cors: { origin: corsOrigin ?? false },
      ...HEARTBEAT,
    });
    this.redis = redisUrl ? useRedisAdapter(this.io, redisUrl, logger) : undefined;
    const io = this.io;
    const redis = this.redis;
    this.audience = {
      to: (channels, options) => (options?.except === undefined ? io.to(channels) : io.to(channels).except(options.except)),
      grantChangedElsewhere: (roomId, userId, decision) => {
        if (redis) io.serverSideEmit('lc:grant-changed', roomId, userId, decision);
      },
    };
  }

  /** Hears grants changed on other nodes. */
  onGrantChanged(listener: (roomId: string, userId: string, decision: Decision) => void): void {
    this.io.on('lc:grant-changed', listener);
  }

  /** Closes every socket and the socket.io engine (the HTTP server is the service's), then Redis. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.io.disconnectSockets(true);
      // Each connection closes once its last messages (a drain notice) are written; what is left
      // after a second is cut.
      const cut = Date.now() + 1_000;
      while (this.io.engine.clientsCount > 0 && Date.now() < cut) await new Promise((resolve) => setTimeout(resolve, 20));
      this.io.engine.close();
      await this.redis?.close();
    })();
    return this.#closing;
  }
}
