// Request/response and events over Node's IPC channel (process.send), both ways, between the
// benchmark and its child processes (the SFU and the subscriber workers).
import { fork, type ChildProcess } from 'node:child_process';

type Message =
  | { t: 'req'; id: number; op: string; args: unknown }
  | { t: 'res'; id: number; ok: true; value: unknown }
  | { t: 'res'; id: number; ok: false; error: string }
  | { t: 'evt'; name: string; data: unknown };

export type RequestHandler = (op: string, args: unknown) => unknown;
export type EventHandler = (name: string, data: unknown) => void;

export class Channel {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private readonly post: (message: Message) => void;
  handleRequest: RequestHandler = (op) => {
    throw new Error(`no handler for ${op}`);
  };
  handleEvent: EventHandler = () => {};

  constructor(post: (message: Message) => void) {
    this.post = post;
  }

  call<T>(op: string, args?: unknown, timeoutMs = 60_000): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        this.post({ t: 'req', id, op, args });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  emit(name: string, data: unknown) {
    this.post({ t: 'evt', name, data });
  }

  /** Fails every outstanding call (the other side went away). */
  fail(reason: string) {
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      this.pending.delete(id);
      waiting.reject(new Error(reason));
    }
  }

  receive(raw: unknown) {
    const message = raw as Message;
    if (message.t === 'evt') {
      this.handleEvent(message.name, message.data);
    } else if (message.t === 'res') {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.ok) waiting.resolve(message.value);
      else waiting.reject(new Error(message.error));
    } else if (message.t === 'req') {
      const { id } = message;
      Promise.resolve()
        .then(() => this.handleRequest(message.op, message.args))
        .then(
          (value) => this.post({ t: 'res', id, ok: true, value: value ?? null }),
          (error: unknown) => this.post({ t: 'res', id, ok: false, error: error instanceof Error ? error.message : String(error) }),
        )
        .catch(() => {}); // the channel closed meanwhile
    }
  }
}

/** In a child process: the channel to the parent. The child exits when the parent goes away. */
export function parentChannel(): Channel {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this file runs as a child process of bench/fanout.ts (no IPC channel)');
  const channel = new Channel((message) => {
    if (process.connected) send(message);
  });
  process.on('message', (message) => channel.receive(message));
  process.on('disconnect', () => process.exit(0));
  return channel;
}

export interface Child {
  process: ChildProcess;
  channel: Channel;
  exited: Promise<number | null>;
  /** Kills this child (by its own PID) if it is still running. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `file` with this Node (so type stripping works) and an IPC channel. */
export function startChild(file: URL, execArgv: string[] = [], env: NodeJS.ProcessEnv = process.env, args: string[] = []): Child {
  const child = fork(file, args, { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const channel = new Channel((message) => {
    if (child.connected) child.send(message);
  });
  child.on('message', (message) => channel.receive(message));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      channel.fail(`child ${file.pathname} (pid ${child.pid}) exited with ${code}`);
      resolve(code);
    });
  });
  return {
    process: child,
    channel,
    exited,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill(signal);
    },
  };
}
