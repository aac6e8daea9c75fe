import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DataDirInUseError, DataDirLock, readLockOwner } from '../../server/db/index.ts';

const LOCK = 'live-classroom.lock';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(result.stdout.toString());
}

describe('DATA_DIR lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lc-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records its owner, refuses a second holder, and frees the folder on release', () => {
    const lock = DataDirLock.acquire(dir);
    assert.equal(readLockOwner(dir)?.pid, process.pid);
    lock.update({ url: 'http://127.0.0.1:3000' });
    assert.equal(readLockOwner(dir)?.url, 'http://127.0.0.1:3000');
    assert.throws(() => DataDirLock.acquire(dir), (error: unknown) => {
      assert.ok(error instanceof DataDirInUseError);
      assert.match(error.message, new RegExp(`^DATA_DIR ${dir} is in use by another Live Classroom process \\(pid ${process.pid} `));
      return true;
    });
    lock.release();
    lock.release();
    assert.equal(existsSync(join(dir, LOCK)), false);
    DataDirLock.acquire(dir).release();
  });

  it('takes over a lock left by a process that died on this machine', () => {
    const pid = deadPid();
    writeFileSync(join(dir, LOCK), JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00Z' }));
    const lock = DataDirLock.acquire(dir);
    assert.equal(readLockOwner(dir)?.pid, process.pid);
    lock.release();
  });

  it('respects a fresh lock of another machine sharing the folder, but not one that stopped refreshing', () => {
    const path = join(dir, LOCK);
    writeFileSync(path, JSON.stringify({ pid: 1, hostname: 'other-node', startedAt: '2026-01-01T00:00:00Z' }));
    assert.throws(() => DataDirLock.acquire(dir), /pid 1 on other-node/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = DataDirLock.acquire(dir);
    assert.equal(readLockOwner(dir)?.hostname, hostname());
    lock.release();
  });

  it('treats an unreadable lock file as stale', () => {
    writeFileSync(join(dir, LOCK), '{"pid": 12');
    DataDirLock.acquire(dir).release();
  });
});
