// The engine's packet counters on mediasoup, where the packets are counted by the workers: read
// from the producers' and consumers' own statistics when someone asks (a /metrics scrape), and
// added up as growth since the last reading, so a producer or consumer that closes keeps what it
// counted.
import type { Consumer, Producer } from 'mediasoup/types';
import { newCounters, type Counters } from '../types.ts';

export type CountedObject = { kind: 'producer'; producer: Producer } | { kind: 'consumer'; consumer: Consumer };

interface Seen {
  packets: number;
  bytes: number;
  lost: number;
}

export class WorkerCounters {
  readonly values: Counters = newCounters();
  /** Per producer/consumer id, what was already added. */
  readonly #seen = new Map<string, Seen>();
  #reading: Promise<void> | undefined;

  /** Brings the counters up to date from these objects (all the engine has); calls made meanwhile share the reading. */
  read(objects: CountedObject[]): Promise<void> {
    this.#reading ??= this.#read(objects).finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(objects: CountedObject[]): Promise<void> {
    const live = new Set<string>();
    await Promise.all(
      objects.map(async (item) => {
        const object = item.kind === 'producer' ? item.producer : item.consumer;
        live.add(object.id);
        const now: Seen = { packets: 0, bytes: 0, lost: 0 };
        for (const stat of await object.getStats().catch(() => [])) {
          if (stat.type !== 'inbound-rtp' && stat.type !== 'outbound-rtp') continue;
          now.packets += stat.packetCount;
          now.bytes += stat.byteCount;
          now.lost += stat.packetsLost;
        }
        const before = this.#seen.get(object.id) ?? { packets: 0, bytes: 0, lost: 0 };
        const grown = (key: keyof Seen) => Math.max(0, now[key] - before[key]);
        if (item.kind === 'producer') {
          this.values.packetsReceived += grown('packets');
          this.values.packetsLostFromPublishers += grown('lost');
        } else {
          this.values.packetsForwarded += grown('packets');
          this.values.bytesForwarded += grown('bytes');
          this.values.packetsLostBySubscribers += grown('lost');
        }
        this.#seen.set(object.id, { packets: Math.max(now.packets, before.packets), bytes: Math.max(now.bytes, before.bytes), lost: Math.max(now.lost, before.lost) });
      }),
    );
    for (const id of this.#seen.keys()) if (!live.has(id)) this.#seen.delete(id);
  }
}
