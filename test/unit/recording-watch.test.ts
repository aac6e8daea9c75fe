// The recording's watch (recordings/watch.ts) on folders written by hand the way FFmpeg 5.1 writes
// them: a healthy recording (a segment in the playlist at every cut, or one long segment growing)
// is never stopped; one where writes fail inside open files (a quota, an I/O error: FFmpeg goes on,
// its segments stay empty and its playlist is emptied) is, once nothing was written for `stallMs`.
// Also FFmpeg's stderr lines that name a write failure (as seen on a remounted read-only tmpfs).
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { writeFailure } from '../../recordings/ffmpeg.ts';
import { describeWriteError, stallAfterMs, watchRecording, whyExited, type RecordingWatch } from '../../recordings/watch.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const playlist = (count: number) =>
  ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-PLAYLIST-TYPE:EVENT', ...Array.from({ length: count }, (_, i) => `#EXTINF:2.000000,\nsegment-${String(i).padStart(5, '0')}.ts`)].join('\n') + '\n';

describe('the recording watch', () => {
  let dir: string;
  let watch: RecordingWatch | undefined;
  const stalls: string[] = [];
  const start = (stallMs = 300) => {
    watch = watchRecording(dir, { intervalMs: 20, minFreeBytes: 0, onLowDisk: () => assert.fail('not low'), stallMs, onStalled: (why) => stalls.push(why) });
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lc-watch-'));
    stalls.length = 0;
  });
  afterEach(async () => {
    watch?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('waits 4 segments, and at least 20 s', () => {
    assert.equal(stallAfterMs(2), 20_000);
    assert.equal(stallAfterMs(6), 24_000);
  });

  it('leaves alone a recording whose playlist grows', async () => {
    start(1000);
    for (let i = 1; i <= 8; i++) {
      await sleep(250);
      await writeFile(join(dir, 'index.m3u8'), playlist(i));
    }
    await sleep(100);
    assert.deepEqual(stalls, []);
    assert.equal(watch!.playlist, playlist(8));
  });

  it('leaves alone a long segment that grows on disk (no keyframe yet on the copy path)', async () => {
    await writeFile(join(dir, 'index.m3u8'), playlist(2));
    start(1000);
    for (let i = 0; i < 8; i++) {
      await appendFile(join(dir, 'segment-00002.ts.tmp'), Buffer.alloc(188));
      await sleep(250);
    }
    assert.deepEqual(stalls, []);
  });

  it('stops a recording that has written nothing since it started', async () => {
    start();
    await sleep(500);
    assert.deepEqual(stalls, ['the recording could not be written to RECORDINGS_DIR: FFmpeg has written nothing for 0 s']);
  });

  it('stops a recording whose writes fail (empty segments, emptied playlist), keeping the last good playlist', async () => {
    await writeFile(join(dir, 'index.m3u8'), playlist(3));
    start();
    await sleep(100);
    // As FFmpeg does when a write fails inside an open file: new files, all empty.
    for (let i = 3; i < 6; i++) {
      await writeFile(join(dir, `segment-${String(i).padStart(5, '0')}.ts`), '');
      await writeFile(join(dir, 'index.m3u8'), '');
      await sleep(120);
    }
    await sleep(200);
    assert.equal(stalls.length, 1, 'told once');
    assert.match(stalls[0]!, /^the recording could not be written to RECORDINGS_DIR: FFmpeg has written nothing for 0 s$/);
    assert.equal(watch!.playlist, playlist(3));
  });

  it('names the error FFmpeg reported, or the one a test write meets', async () => {
    watch = watchRecording(dir, { intervalMs: 20, minFreeBytes: 0, onLowDisk: () => {}, stallMs: 100, onStalled: (why) => stalls.push(why), writeError: () => 'Disk quota exceeded' });
    await sleep(300);
    assert.deepEqual(stalls, ['the recording could not be written to RECORDINGS_DIR: the disk quota is exceeded']);
    const gone = join(dir, 'gone');
    assert.equal(await whyExited(gone, { clean: false, reason: 'Conversion failed!' }), "the recording could not be written to RECORDINGS_DIR: the recording's folder is gone");
    assert.equal(await whyExited(dir, { clean: false, reason: 'Conversion failed!' }), 'FFmpeg stopped: Conversion failed!');
    assert.equal(await whyExited(dir, { clean: false, reason: 'x', writeError: 'Read-only file system' }), 'the recording could not be written to RECORDINGS_DIR: the file system is read-only');
    assert.equal(await whyExited(dir, { clean: false, reason: 'av_interleaved_write_frame(): No space left on device' }), 'the disk is full');
    assert.equal(describeWriteError(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })), 'input/output error');
  });
});

describe("FFmpeg's write failures on stderr", () => {
  it('finds them in the lines FFmpeg 5.1 prints, and nowhere else', () => {
    const dir = '/tmp/lc-observe-RMSbi7/7d9c86c5/2026-11-25T01-07-48-469Z';
    assert.equal(writeFailure('av_interleaved_write_frame(): Read-only file system'), 'Read-only file system');
    assert.equal(writeFailure(`[hls @ 0x56245cadac40] failed to rename file ${dir}/segment-00003.ts.tmp to ${dir}/segment-00003.ts: Permission denied`), 'Permission denied');
    assert.equal(writeFailure(`[hls @ 0x56245cadac40] Failed to open file '${dir}/segment-00003.ts.tmp'`), undefined);
    assert.equal(writeFailure(`[hls @ 0x56245cadac40] Opening '${dir}/index.m3u8.tmp' for writing`), undefined);
    assert.equal(writeFailure(`${dir}/input.sdp: No such file or directory`), undefined, 'the input is not the output');
    assert.equal(writeFailure('Conversion failed!'), undefined);
  });
});
