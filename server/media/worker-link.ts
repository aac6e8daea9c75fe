// One subscriber worker thread as the main thread sees it (worker-pool.ts): the thread, its
// request/response protocol (ids over its port), the batch of RTP packets waiting to go to it, and
// what it has been sent. A link lives as long as its thread; the pool replaces a link whose thread
// stopped with a fresh one.
import { Worker } from 'node:worker_threads';
import { MediaError } from './errors.ts';
import { PacketBatch, type FromWorker, type ToWorker, type WorkerRequest, type WorkerSetup } from './relay-protocol.ts';
import type { TrackKind } from './types.ts';

export class WorkerLink {
  readonly worker: Worker;
  readonly setup: WorkerSetup;
  /** The thread's id (unique in the process; a replacement gets a new one). */
  readonly threadId: number;
  readonly startedAt = Date.now();
  readonly batch = new PacketBatch();
  /** Packets queued for this thread since it started, per kind of track. */
  readonly relayed: Record<TrackKind, number> = { audio: 0, video: 0 };
  /** Subscribers served, all rooms. */
  load = 0;
  /** The thread has stopped (crashed, terminated, or the pool closed). */
  dead = false;
  /** Exits in a row of this worker slot that came soon after a start (the pool's restart backoff). */
  readonly quickExits: number;
  private flushing = false;
  private nextId = 1;
  private lastError: string | undefined;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor(setup: WorkerSetup, quickExits: number, onEvent: (event: FromWorker) => void, onExit: (exitCode: number, error: string | undefined) => void) {
    this.setup = setup;
    this.quickExits = quickExits;
    this.worker = new Worker(new URL('./subscriber-worker.ts', import.meta.url), { workerData: setup, name: `media-worker-${setup.index}` });
    this.threadId = this.worker.threadId;
    // No message after the exit: its handler removes this listener.
    this.worker.on('message', (message: FromWorker) => {
      if (message.kind !== 'response') return onEvent(message);
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiting) return;
      if (message.error) waiting.reject(new MediaError(message.error.code, message.error.message));
      else waiting.resolve(message.result);
    });
    this.worker.on('error', (error: Error) => {
      this.lastError = error.message;
      this.failAll(new MediaError('closed', `A media worker failed: ${error.message}`));
    });
    this.worker.once('exit', (exitCode: number) => {
      this.dead = true;
      this.worker.removeAllListeners('message');
      this.worker.removeAllListeners('error');
      this.failAll(new MediaError('closed', 'The media worker stopped.'));
      onExit(exitCode, this.lastError);
    });
  }

  request<T>(request: WorkerRequest): Promise<T> {
    if (this.dead) return Promise.reject(new MediaError('closed', 'The media worker stopped.'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ kind: 'request', id, request } satisfies ToWorker);
    });
  }

  /** A message that needs no answer (the room's tracks); dropped once the thread has stopped. */
  post(message: ToWorker) {
    if (!this.dead) this.worker.postMessage(message);
  }

  /** Sends the queued packets at the end of this turn of the event loop, in one message. */
  scheduleFlush() {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      if (this.batch.size === 0 || this.dead) return;
      const { message, transfer } = this.batch.take();
      this.worker.postMessage(message, transfer);
    });
  }

  private failAll(error: MediaError) {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
