// The routers one room spans on the mediasoup engine: its home router (every producer, the
// recordings' taps) and, once a worker's share of the room's viewers is full, a router on each
// further worker that serves some of them, the producers piped there as those viewers need them.
import type { Producer, Router } from 'mediasoup/types';

export class RoomRouters {
  readonly home: Router;
  readonly #all: Router[];
  /** Per producer, the extra routers it is piped to (pipeToRouter), done or under way. */
  readonly #piped = new Map<string, Map<Router, Promise<void>>>();

  constructor(home: Router) {
    this.home = home;
    this.#all = [home];
  }

  /**
   * The router a new viewer goes to: the first with room for one more (`share`), else a new one
   * on another worker (`extra`), else the least loaded. `viewersOn` counts a router's viewers.
   */
  async forViewer(viewersOn: (router: Router) => number, share: number, extra: (used: readonly Router[]) => Promise<Router | undefined>): Promise<Router> {
    const open = this.#all.filter((router) => !router.closed);
    const free = open.find((router) => viewersOn(router) < share);
    if (free) return free;
    const added = await extra(open).catch(() => undefined);
    if (added) {
      this.#all.push(added);
      return added;
    }
    return open.reduce((best, router) => (viewersOn(router) < viewersOn(best) ? router : best), this.home);
  }

  /** Makes the producer available on another of the room's routers (once). */
  pipe(producer: Producer, router: Router): Promise<void> {
    let routers = this.#piped.get(producer.id);
    if (!routers) {
      this.#piped.set(producer.id, (routers = new Map()));
      producer.observer.once('close', () => this.#piped.delete(producer.id));
    }
    let piping = routers.get(router);
    if (!piping) {
      piping = this.home.pipeToRouter({ producerId: producer.id, router }).then(() => undefined);
      routers.set(router, piping);
      const known = routers;
      piping.catch(() => known.delete(router));
    }
    return piping;
  }

  /** An extra router is gone with its worker: nothing goes there any more. */
  remove(router: Router): void {
    const index = this.#all.indexOf(router);
    if (index > 0) this.#all.splice(index, 1);
    for (const routers of this.#piped.values()) routers.delete(router);
  }

  /** Closes every router (the room closed); `extraClosed` hears of each one but the home router. */
  closeAll(extraClosed: (router: Router) => void): void {
    for (const router of this.#all.splice(0)) {
      if (!router.closed) router.close();
      if (router !== this.home) extraClosed(router);
    }
    this.#piped.clear();
  }
}
