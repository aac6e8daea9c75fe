// With REDIS_URL, socket.io's rooms span every node: a message emitted on one node reaches the
// sockets of the room on all of them (@socket.io/redis-adapter over node-redis pub/sub).
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import type { Logger } from '../logger.ts';

export interface RedisLink {
  close(): Promise<void>;
}

/** Puts `io` on the Redis adapter. The clients connect (and reconnect) in the background. */
export function useRedisAdapter(io: Server, url: string, logger: Logger): RedisLink {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  let lastProblem = 0;
  for (const client of [pub, sub]) {
    client.on('error', (error: unknown) => {
      // node-redis retries by itself and reports each failed attempt: one line every 10 s is enough.
      if (Date.now() - lastProblem < 10_000) return;
      lastProblem = Date.now();
      logger.warn({ err: error }, 'Redis (REDIS_URL) cannot be reached; messages stay on this node until it is back');
    });
  }
  // Commands issued while connecting are queued, so the adapter may subscribe at once.
  const connected = Promise.all([pub.connect(), sub.connect()]).then(
    () => logger.info('socket.io shares its rooms through Redis'),
    (error: unknown) => logger.error({ err: error }, 'connecting to Redis (REDIS_URL) failed'),
  );
  io.adapter(createAdapter(pub, sub));
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        // A Redis that never connected must not hold up shutdown: wait for it 2 s at most.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([connected, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]).finally(() => clearTimeout(timer));
        for (const client of [pub, sub]) {
          if (client.isOpen) await client.close().catch(() => client.destroy());
        }
      })();
      return closing;
    },
  };
}
