// One process at a time on an embedded database. The lock is a JSON file in DATA_DIR that the
// owner refreshes every few seconds; a lock whose owner died (kill -9, power cut) is taken over.
import { linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'live-classroom.lock';
const HEARTBEAT_MS = 5_000;
/** A lock not refreshed for this long belongs to a process that is gone. */
const STALE_MS = 20_000;
/** Folders this process holds, so it never mistakes its own live lock for a stale one. */
const heldHere = new Map<string, LockOwner>();

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Where the owner serves HTTP, once it listens (the admin CLI talks to it there). */
  url?: string;
}

export class DataDirInUseError extends Error {
  readonly dataDir: string;
  readonly owner: LockOwner;
  constructor(dataDir: string, owner: LockOwner) {
    super(
      `DATA_DIR ${dataDir} is in use by another Live Classroom process (pid ${owner.pid} on ${owner.hostname}, ` +
        `started ${owner.startedAt}). Two processes on one embedded database would corrupt it: stop the other one, ` +
        'or give this one another DATA_DIR (or a DATABASE_URL).',
    );
    this.name = 'DataDirInUseError';
    this.dataDir = dataDir;
    this.owner = owner;
  }
}

export function readLockOwner(dataDir: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the owner recorded in a lock file can still be running. */
function ownerIsGone(path: string, owner: LockOwner | undefined): boolean {
  if (owner === undefined) return true; // unreadable or half-written by a process that died
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return true;
  }
  if (Date.now() - mtimeMs > STALE_MS) return true;
  if (owner.hostname !== hostname()) return false; // fresh, on another machine sharing the folder
  // Same machine: a dead pid, or our own pid (a container restarted as pid 1 again), is stale.
  return owner.pid === process.pid || !isAlive(owner.pid);
}

export class DataDirLock {
  readonly dataDir: string;
  readonly #path: string;
  #owner: LockOwner;
  #heartbeat: NodeJS.Timeout;
  #released = false;

  private constructor(dataDir: string, owner: LockOwner) {
    this.dataDir = dataDir;
    this.#path = join(dataDir, LOCK_FILE);
    this.#owner = owner;
    this.#heartbeat = setInterval(() => this.#touch(), HEARTBEAT_MS);
    this.#heartbeat.unref();
    heldHere.set(this.#path, owner);
  }

  /** Takes the lock or throws DataDirInUseError. Creates DATA_DIR if needed. */
  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, LOCK_FILE);
    const ours = heldHere.get(path);
    if (ours !== undefined) throw new DataDirInUseError(dataDir, ours);
    const owner: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
    // Write our claim aside, then link it into place: link() fails if a lock exists, so two
    // processes racing for the folder cannot both win.
    const claim = `${path}.${process.pid}.${Date.now()}`;
    writeFileSync(claim, JSON.stringify(owner), { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(claim, path);
          return new DataDirLock(dataDir, owner);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const existing = readLockOwner(dataDir);
        if (!ownerIsGone(path, existing)) throw new DataDirInUseError(dataDir, existing as LockOwner);
        // Move the stale lock away atomically; if another process did it first, try again.
        const stale = `${path}.stale.${process.pid}`;
        try {
          renameSync(path, stale);
          unlinkSync(stale);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
      const existing = readLockOwner(dataDir);
      throw new DataDirInUseError(dataDir, existing ?? { pid: 0, hostname: 'unknown', startedAt: 'unknown' });
    } finally {
      try {
        unlinkSync(claim);
      } catch {
        // already gone
      }
    }
  }

  get owner(): LockOwner {
    return this.#owner;
  }

  /** Records extra facts about the owner (such as its URL) in the lock file. */
  update(facts: Partial<Pick<LockOwner, 'url'>>): void {
    if (this.#released) return;
    this.#owner = { ...this.#owner, ...facts };
    const temp = `${this.#path}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(this.#owner));
    renameSync(temp, this.#path);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#heartbeat);
    heldHere.delete(this.#path);
    const current = readLockOwner(this.dataDir);
    if (current?.pid === this.#owner.pid && current.startedAt === this.#owner.startedAt) {
      try {
        unlinkSync(this.#path);
      } catch {
        // gone already
      }
    }
  }

  #touch(): void {
    const now = new Date();
    try {
      utimesSync(this.#path, now, now);
    } catch {
      // The folder went away (unmounted disk); the database will report its own error.
    }
  }
}
