// At most one asynchronous making of a thing per key (a room's router, a user's connection): a
// second call for the same key while the first is under way gets the first one's promise.
export class OneAtATime<K, V> {
  readonly #running = new Map<K, Promise<V>>();

  /** How many are under way. */
  get size(): number {
    return this.#running.size;
  }

  run(key: K, make: () => Promise<V>): Promise<V> {
    const running = this.#running.get(key);
    if (running) return running;
    const made = make().finally(() => this.#running.delete(key));
    this.#running.set(key, made);
    return made;
  }
}
