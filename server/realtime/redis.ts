// With REDIS_URL, socket.io's rooms span every node: a message emitted on one node reaches the
// sockets of the room on all of them (@socket.io/redis-adapter over node-redis pub/sub).
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { throttledWarn, type Logger } from '../logger/index.ts';
import type { RedisCommands } from './placement.ts';

export interface RedisLink {
  /** The publishing client, for plain commands (where rooms live). */
  commands: RedisCommands;
  close(): Promise<void>;
}

/** Puts `io` on the Redis adapter. The clients connect (and reconnect) in the background. */
export function useRedisAdapter(io: { adapter(factory: NonNullable<Parameters<Server['adapter']>[0]>): unknown }, url: string, logger: Logger): RedisLink {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  // node-redis retries by itself and reports each failed attempt: one line every 10 s is enough.
  const warn = throttledWarn(logger);
  for (const client of [pub, sub]) {
    client.on('error', (error: unknown) => warn({ err: error }, 'Redis (REDIS_URL) cannot be reached; messages stay on this node until it is back'));
  }
  // Commands issued while connecting are queued, so the adapter may subscribe at once.
  const connected = Promise.all([pub.connect(), sub.connect()]).then(
    () => logger.info('socket.io shares its rooms through Redis'),
    (error: unknown) => logger.error({ err: error }, 'connecting to Redis (REDIS_URL) failed'),
  );
  // While Redis is down, commands time out (5 s) and closing drops those still queued. The
  // adapter does not catch its subscribe and publish calls, so it is handed clients whose
  // failures are logged here instead of surfacing as unhandled rejections (which stop the process).
  const quiet = (error: unknown) => warn({ err: error }, 'a Redis (REDIS_URL) command failed; messages stay on this node until it is back');
  io.adapter(createAdapter(caught(pub, quiet), caught(sub, quiet)));
  let closing: Promise<void> | undefined;
  return {
    commands: pub as unknown as RedisCommands,
    close() {
      closing ??= (async () => {
        // A Redis that never connected must not hold up shutdown: wait for it 2 s at most.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([connected, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]).finally(() => clearTimeout(timer));
        for (const client of [pub, sub]) {
          // A client still trying to connect would queue its goodbye for ever: drop it instead.
          if (client.isReady) await client.close().catch(() => client.destroy());
          else if (client.isOpen) client.destroy();
        }
      })();
      return closing;
    },
  };
}

/** The client, with a failure handler attached to every promise its methods answer (callers still see the failure). */
function caught<T extends object>(client: T, onFailure: (error: unknown) => void): T {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) result.catch(onFailure);
        return result;
      };
    },
  });
}
