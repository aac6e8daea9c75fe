// Recording on a disk that is (or becomes) full, with real FFmpeg and real filesystems: RECORDINGS_DIR
// is a tmpfs of a given size (mounting one needs root; without it these tests are skipped, saying
// so). On a 3 MB disk a recording does not start, and the host is told there is not enough space,
// whether the Record button or "Record automatically" asked. On a disk just over the 200 MB a
// recording needs, the disk is filled while recording: the host is told the disk is full, the
// class stays live, the recording is "interrupted" with what was written (playable), and the tool
// goes on serving; once space is freed, recording works again. When the disk turns read-only during
// a recording (remounted), the host is told the recording could not be written, what was written
// before plays, the class stays live, and once the disk is writable again so is a new recording.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Socket } from 'socket.io-client';
import { measure } from '../../recordings/index.ts';
import { request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { keptAndPlayable, recordingFolder } from '../helpers/recording.ts';
import { join as joinRoom } from '../helpers/interaction.ts';
import { until } from '../helpers/wait.ts';

const run = promisify(execFile);
type Ack = { ok: boolean; error?: string; [key: string]: unknown };

interface SmallDisk {
  dir: string;
  remove(): Promise<void>;
}

/** A tmpfs of `size` (mount's syntax, e.g. '3m') on a fresh folder. */
async function smallDisk(size: string): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), 'lc-small-disk-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  } catch (error) {
    await rmdir(dir);
    throw error;
  }
  return {
    dir,
    async remove() {
      // Writable again first, if a test turned it read-only.
      await run('mount', ['-o', 'remount,rw', dir]).catch(() => {});
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rmdir(dir);
    },
  };
}

/** Why a small filesystem cannot be made here (not root, mount refused), or undefined. */
async function cannotMount(): Promise<string | undefined> {
  try {
    await (await smallDisk('1m')).remove();
    return undefined;
  } catch (error) {
    return `mounting a small tmpfs is not permitted here (${(error as Error).message.split('\n')[0]}); run as root to test a full disk`;
  }
}

/** Writes zeros into `file` until the filesystem refuses (ENOSPC): the disk is then full. */
async function fill(file: string): Promise<number> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(chunk);
      written += bytesWritten;
      if (bytesWritten < chunk.length) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
  return written;
}

const skip = await cannotMount();

describe('recording on a disk that is full, fills, or turns read-only', { skip }, () => {
  const sockets: Socket[] = [];
  const ask = (socket: Socket, event: string, payload: unknown = {}) => request<Ack>(socket, event, payload, 30_000);
  const hostOf = async (c: Classroom, room: string) => {
    const host = await joinRoom(c.platform, c.service, room, 'teacher', 'instructor', { resourceLink: { id: room, title: room } });
    sockets.push(host.socket);
    return host;
  };
  after(() => {
    for (const socket of sockets) socket.close();
  });

  /** A live class recording until it has two segments; then what the host is told is kept in `states`. */
  const recordingUnderWay = async (c: Classroom, room: string) => {
    const host = await hostOf(c, room);
    assert.equal((await ask(host.socket, 'class:start')).ok, true);
    const started = await ask(host.socket, 'recording:start');
    assert.ok(started.ok, started.error ?? '');
    const recordingId = String(started.recordingId);
    const dir = await recordingFolder(c.service, recordingId);
    await until('two segments', async () => (await measure(dir)).segments >= 2);
    const states: Array<{ recording: boolean; problem?: string }> = [];
    host.socket.on('recording:state', (s: { recording: boolean; problem?: string }) => states.push(s));
    return { host, recordingId, dir, states };
  };

  /** A tmpfs of `size` as RECORDINGS_DIR of a classroom, both made before this describe's tests and removed after. */
  const useSmallDisk = (size: string) => {
    let disk: SmallDisk;
    let c: Classroom;
    before(async () => {
      disk = await smallDisk(size);
      c = await startClassroom('moodle', { env: { RECORDINGS_DIR: disk.dir } });
    });
    after(async () => {
      await c?.close();
      await disk?.remove();
    });
    return { disk: () => disk, classroom: () => c };
  };

  /** The host's next recording starts, gets a segment, and is ready once the class ends. */
  const recordsAgain = async (c: Classroom, host: { socket: Socket }) => {
    const again = await ask(host.socket, 'recording:start');
    assert.ok(again.ok, again.error ?? '');
    const againDir = await recordingFolder(c.service, String(again.recordingId));
    await until('a segment of the next recording', async () => (await measure(againDir)).segments >= 1);
    assert.equal((await ask(host.socket, 'class:end')).ok, true);
    assert.equal((await c.service.recordings.get(String(again.recordingId)))?.status, 'ready');
  };

  describe('with under 200 MB free', () => {
    const { classroom } = useSmallDisk('3m');

    it('does not start a recording, says there is not enough space, and the class goes on', async () => {
      const c = classroom();
      const host = await hostOf(c, 'tiny-disk');
      assert.equal((await ask(host.socket, 'class:start')).ok, true);
      const refused = await ask(host.socket, 'recording:start');
      assert.equal(refused.ok, false);
      assert.match(refused.error ?? '', /^there is not enough disk space to record \(3 MB free in RECORDINGS_DIR\)$/);
      assert.equal(c.service.recordings.running, 0);
      assert.deepEqual((await ask(host.socket, 'recordings:list')).recordings, [], 'no recording row was made');
      assert.equal((await c.service.repositories.rooms.get(host.roomId))?.status, 'live');
      assert.equal((await ask(host.socket, 'class:end')).ok, true);

      // A room that records automatically goes live all the same, and says why it is not recording.
      assert.equal((await ask(host.socket, 'recording:auto', { autoRecord: true })).ok, true);
      const states: Array<{ recording: boolean; problem?: string }> = [];
      host.socket.on('recording:state', (s: { recording: boolean; problem?: string }) => states.push(s));
      assert.deepEqual(await ask(host.socket, 'class:start'), { ok: true, status: 'live' });
      const state = await until('the host told why nothing is recorded', () => states[0]);
      assert.equal(state.recording, false);
      assert.match(state.problem ?? '', /^The automatic recording did not start: there is not enough disk space to record \(3 MB free in RECORDINGS_DIR\)\. The class is live/);
      assert.equal((await ask(host.socket, 'class:end')).ok, true);
    });
  });

  describe('when the disk fills during a recording', () => {
    // Just over the 200 MB a recording needs to start.
    const { disk, classroom } = useSmallDisk('210m');

    it('stops only the recording, tells the host the disk is full, keeps what was written, and keeps serving', async (t) => {
      const c = classroom();
      const { host, recordingId, dir, states } = await recordingUnderWay(c, 'full-disk');
      const filler = join(disk().dir, 'filler');
      t.diagnostic(`filled the disk with ${((await fill(filler)) / 1048576).toFixed(1)} MB`);
      const state = await until('the host told the recording stopped', () => states.find((s) => !s.recording));
      assert.match(state.problem ?? '', /^The recording stopped: the disk is full \(0 MB free in RECORDINGS_DIR\)\. The class goes on; what was recorded until then is kept\.$/);
      const row = (await c.service.recordings.get(recordingId))!;
      assert.equal(row.status, 'interrupted');
      assert.equal(row.failureReason, 'the disk is full (0 MB free in RECORDINGS_DIR)');
      assert.ok((await keptAndPlayable(dir, row.durationMs)).segments >= 1, 'what was written is kept and plays');
      t.diagnostic(`kept ${row.durationMs} ms, ${row.sizeBytes} bytes; files: ${(await readdir(dir)).join(' ')}`);
      assert.equal(c.service.recordings.running, 0);

      // The class is live and the tool answers: the list, the health check, the VOD itself.
      assert.equal((await c.service.repositories.rooms.get(host.roomId))?.status, 'live');
      assert.equal((await fetch(`${c.service.url}/healthz`)).status, 200);
      const listed = ((await ask(host.socket, 'recordings:list')).recordings as Array<{ id: string; status: string; playlistUrl?: string }>).find((r) => r.id === recordingId);
      assert.equal(listed?.status, 'interrupted');
      const playlist = await fetch(new URL(listed!.playlistUrl!, c.service.url));
      assert.equal(playlist.status, 200);
      assert.match(await playlist.text(), /#EXT-X-ENDLIST\s*$/);

      // Space freed: the next recording starts and finishes.
      await rm(filler);
      await recordsAgain(c, host);
    });
  });

  describe('when the disk turns read-only during a recording', () => {
    const { disk, classroom } = useSmallDisk('210m');

    it('stops only the recording, tells the host it could not be written, keeps what was, and records again once writable', async (t) => {
      const c = classroom();
      const { host, recordingId, dir, states } = await recordingUnderWay(c, 'read-only-disk');
      await run('mount', ['-o', 'remount,ro', disk().dir]);
      const brokenAt = Date.now();
      const state = await until('the host told the recording stopped', () => states.find((s) => !s.recording), 40_000);
      t.diagnostic(`told after ${Date.now() - brokenAt} ms: ${state.problem}`);
      const reason = 'the recording could not be written to RECORDINGS_DIR: the file system is read-only';
      assert.equal(state.problem, `The recording stopped: ${reason}. The class goes on; what was recorded until then is kept.`);
      const row = (await c.service.recordings.get(recordingId))!;
      assert.equal(row.status, 'interrupted');
      assert.equal(row.failureReason, reason);
      assert.equal(c.service.recordings.running, 0);
      assert.equal((await c.service.repositories.rooms.get(host.roomId))?.status, 'live');
      assert.equal((await fetch(`${c.service.url}/healthz`)).status, 200);

      // What was written plays as served, closed although the folder could not be written to.
      const listed = ((await ask(host.socket, 'recordings:list')).recordings as Array<{ id: string; status: string; playlistUrl?: string }>).find((r) => r.id === recordingId);
      assert.equal(listed?.status, 'interrupted');
      const url = new URL(listed!.playlistUrl!, c.service.url).href;
      assert.match(await (await fetch(url)).text(), /#EXT-X-ENDLIST\s*$/);
      assert.ok((await keptAndPlayable(dir, row.durationMs, { servedAt: url })).segments >= 1, 'what was written is kept and plays');

      // Writable again: the next recording starts and finishes.
      await run('mount', ['-o', 'remount,rw', disk().dir]);
      await recordsAgain(c, host);
    });
  });
});
