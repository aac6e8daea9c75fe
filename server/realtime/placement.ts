// Where a room lives when several nodes share REDIS_URL: each room's media (and so its sockets,
// its recording and its class state) is served by one node. The first node a participant reaches
// claims the room in Redis; a participant who reaches another node is sent to the owner's
// NODE_URL before being admitted (the widget follows without the user noticing).
//
// A claim lives ROOM_TTL_MS and the owner renews it while it serves the room. Each node also keeps
// a heartbeat key; a claim whose node stopped beating (crashed, or drained on SIGTERM) is taken
// over by the next node asked, at once rather than when the claim runs out.
import { randomBytes } from 'node:crypto';
import { throttledWarn, type Logger } from '../logger/index.ts';
import type { NodeRedirect } from '../protocol/index.ts';

export interface NodeIdentity {
  /** NODE_ID: unique among the nodes sharing REDIS_URL. */
  id: string;
  /** NODE_URL: where browsers reach this node directly. */
  url: string;
}

/** The subset of node-redis's client used here. */
export interface RedisCommands {
  readonly isReady: boolean;
  /** 'ready': connected (at start-up, and again after an outage). */
  on(event: 'ready', listener: () => void): unknown;
  sendCommand<T = unknown>(args: readonly string[]): Promise<T>;
}

export interface Placement {
  readonly self: NodeIdentity;
  /** The node serving the room; this node claims it when nobody (alive) does. */
  ownerOf(roomId: string): Promise<NodeIdentity>;
  /** Stops claiming rooms and forgets the ones held, so the next participant's node takes them (drain). */
  release(): Promise<void>;
  close(): Promise<void>;
}

/** The refusal that sends a connecting browser to the room's node (the widget follows it). */
export function redirectTo(owner: NodeIdentity): Error & { data: NodeRedirect } {
  return Object.assign(new Error('this class is served by another node of Live Classroom'), { data: { node: owner.url } });
}

/** One node: every room is here. */
export function localPlacement(self: NodeIdentity): Placement {
  return { self, ownerOf: async () => self, release: async () => {}, close: async () => {} };
}

const ROOM_TTL_MS = 60_000;
const BEAT_TTL_MS = 15_000;
const BEAT_EVERY_MS = 5_000;
/** Longest a join waits for Redis before the room is served where the participant is. */
const REDIS_WAIT_MS = 1_500;

const roomKey = (roomId: string) => `lc:room-node:${roomId}`;
const beatKey = (nodeId: string) => `lc:node:${nodeId}`;

// KEYS[1] room claim; ARGV: this node's claim ("id url"), claim ttl, heartbeat key prefix, and
// this node's heartbeat (instance, ttl), renewed here so a claim never outlives the heartbeat.
// Returns the claim in force: the current owner's while its heartbeat lives, else ours.
const CLAIM = `
local current = redis.call('GET', KEYS[1])
local mine = ARGV[1]
local me = string.match(mine, '^(%S+)')
redis.call('SET', ARGV[3] .. me, ARGV[4], 'PX', ARGV[5])
if current then
  local id = string.match(current, '^(%S+)')
  if current == mine then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return current
  end
  if id and redis.call('EXISTS', ARGV[3] .. id) == 1 then return current end
end
redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
return mine`;

// KEYS: room claims; ARGV[1] this node's claim. Deletes those still ours.
const RELEASE = `
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key); n = n + 1 end
end
return n`;

export interface RedisPlacementOptions {
  self: NodeIdentity;
  redis: RedisCommands;
  logger: Logger;
  /** The rooms this node serves now (its sockets' and its media's), for renewing their claims. */
  servedRooms: () => Iterable<string>;
}

export function redisPlacement({ self, redis, logger, servedRooms }: RedisPlacementOptions): Placement {
  const claim = `${self.id} ${self.url}`;
  // Tells this process from another that was (mis)configured with the same NODE_ID.
  const instance = randomBytes(6).toString('hex');
  let released = false;
  let collisions = 0;
  const claimArgs = [claim, String(ROOM_TTL_MS), 'lc:node:', instance, String(BEAT_TTL_MS)];
  /** Rooms this node claimed at an admission since its last heartbeat, or still serves. */
  const held = new Set<string>();
  const warn = throttledWarn(logger);
  const problem = (error: unknown, what: string) =>
    warn({ err: error, node: self.id }, `Redis (REDIS_URL) did not answer ${what}; rooms are served where participants arrive until it is back`);
  const command = async <T>(args: string[]): Promise<T> => {
    if (!redis.isReady) throw new Error('not connected');
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = redis.sendCommand<T>(args);
      answer.catch(() => {}); // a late failure, after the wait below gave up, is not news
      return await Promise.race([
        answer,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_WAIT_MS} ms`)), REDIS_WAIT_MS))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  const beat = async () => {
    if (released) return;
    try {
      const previous = await command<string | null>(['SET', beatKey(self.id), instance, 'PX', String(BEAT_TTL_MS), 'GET']);
      // Once is a restart of this node (the old heartbeat outlives it); again and again is a twin.
      collisions = previous !== null && previous !== instance ? collisions + 1 : 0;
      if (collisions === 2) {
        logger.error({ node: self.id }, `another running process uses NODE_ID=${self.id}; give every node its own NODE_ID, or browsers will be sent to the wrong one`);
      }
      const rooms = new Set(servedRooms());
      // Sent together, node-redis pipelines them: one round trip for all of this node's rooms.
      await Promise.all([...rooms].map((roomId) => command(['EVAL', CLAIM, '1', roomKey(roomId), ...claimArgs])));
      // Rooms admitted to but no longer served need no handing back; servedRooms() covers the rest.
      for (const roomId of held) if (!rooms.has(roomId)) held.delete(roomId);
    } catch (error) {
      problem(error, 'a heartbeat');
    }
  };
  const timer = setInterval(() => void beat(), BEAT_EVERY_MS);
  timer.unref();
  // A heartbeat as soon as Redis is connected (it connects in the background), and again after an
  // outage, so the rooms served meanwhile are claimed at once.
  redis.on('ready', () => void beat());
  if (redis.isReady) void beat();
  return {
    self,
    async ownerOf(roomId) {
      if (released) return self;
      try {
        const current = await command<string>(['EVAL', CLAIM, '1', roomKey(roomId), ...claimArgs]);
        if (current === claim) {
          held.add(roomId);
          return self;
        }
        const space = current.indexOf(' ');
        return { id: current.slice(0, space), url: current.slice(space + 1) };
      } catch (error) {
        problem(error, 'where a room lives');
        return self;
      }
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const rooms = [...new Set([...held, ...servedRooms()])];
      try {
        await command(['DEL', beatKey(self.id)]);
        if (rooms.length > 0) await command(['EVAL', RELEASE, String(rooms.length), ...rooms.map(roomKey), claim]);
      } catch (error) {
        problem(error, 'while this node handed its rooms back');
      }
    },
    async close() {
      clearInterval(timer);
      if (!released) await this.release();
    },
  };
}
