// The recording follows the stage, with a real publisher (Chromium's fake camera and microphone,
// and a canvas as the shared screen, test/helpers/media-page), real socket signaling into the
// tool, and real FFmpeg. While recording, the host publishes the camera, then shares the screen,
// then stops sharing: the recorder's choice (recordingSources) moves to the screen and back, and
// the recorded picture does too. Run twice, and which picture each frame shows is read with
// ffprobe: with H.264 from the browser, copied into the recording, each frame is as the browser
// sent it (the 320x240 camera, the 320x180 screen; the slate is 640x360), so its size tells; with
// VP8, transcoded, every frame is 1280x720 (the 4:3 camera pillarboxed, with black bars at the
// sides, the 16:9 screen filling it), so the brightness of its left edge and middle tells.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { measure, readPlaylist } from '../../recordings/index.ts';
import { recordingSources } from '../../recordings/index.ts';
import { startBrowser, type Browser } from '../helpers/browser.ts';
import { connect, launchAs, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { recordingFolder } from '../helpers/recording.ts';
import { startMediaPageServer, type MediaPageServer } from '../helpers/media-page/server.ts';
import { until } from '../helpers/wait.ts';

const run = promisify(execFile);
type Ack = { ok: boolean; error?: string; [key: string]: unknown };
type Picture = 'screen' | 'camera' | 'black';

/** Average luma (0-255) of a region of each frame of a video file, by ffprobe. */
async function luma(file: string, crop: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-f', 'lavfi', '-i', `movie=${file},crop=${crop},signalstats`, '-show_entries', 'frame_tags=lavfi.signalstats.YAVG', '-of', 'csv=p=0']);
  return stdout.split('\n').filter((l) => l.trim() !== '').map(Number);
}

/** Width and height of each frame of a video file, as decoded. */
async function sizes(file: string): Promise<Array<[number, number]>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=width,height', '-of', 'csv=p=0', file]);
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(',').map(Number) as [number, number]);
}

/** The slate's size (recordings/ffmpeg.ts makeSlate). */
const SLATE = '640x360';

/** What each frame of a file shows (the camera, the screen, or black), and each frame's size. */
async function pictures(file: string, path: 'copy' | 'transcode'): Promise<{ shown: Picture[]; sizes: string[] }> {
  const frames = (await sizes(file)).map(([w, h]) => `${w}x${h}`);
  if (path === 'copy') {
    // (Not by brightness: ffprobe's movie source drops frames whose pixel format changes, and the
    // screen's frames are full range where the camera's are not.)
    const shown = frames.map((size): Picture => {
      const [width, height] = size.split('x').map(Number) as [number, number];
      return width / height < 1.5 ? 'camera' : size === SLATE ? 'black' : 'screen';
    });
    return { shown, sizes: frames };
  }
  const [edge, middle] = await Promise.all([luma(file, '16:720:0:0'), luma(file, '320:320:480:200')]);
  assert.equal(edge.length, frames.length, 'a brightness for every frame');
  return { shown: edge.map((y, i) => (y > 30 ? 'screen' : (middle[i] ?? 0) > 30 ? 'camera' : 'black')), sizes: frames };
}

/** What most frames of a list show. */
function mostly(frames: Picture[]): Picture | undefined {
  const counts = new Map<Picture, number>();
  for (const f of frames) counts.set(f, (counts.get(f) ?? 0) + 1);
  const [top] = [...counts].sort((a, b) => b[1] - a[1]);
  return top && top[1] > frames.length / 2 ? top[0] : undefined;
}

// The third: an H.264 recording (it started with nothing on stage) while the camera comes in VP8 (a
// browser without H.264): the camera cannot be copied, so the slate is recorded while it is on stage.
const PATHS = [
  { codecs: 'H264,VP8', path: 'copy', what: 'H.264 copied', cameraCodec: undefined, camera: 'camera' },
  { codecs: 'VP8', path: 'transcode', what: 'VP8 transcoded', cameraCodec: undefined, camera: 'camera' },
  { codecs: 'H264,VP8', path: 'copy', what: 'H.264 copied, a VP8 camera', cameraCodec: 'video/VP8', camera: 'black' },
] as const;

for (const { codecs, path, what, cameraCodec, camera } of PATHS) describe(`a recording follows the stage from the camera to a shared screen and back (${what})`, () => {
  let c: Classroom;
  let browser: Browser;
  let pageServer: MediaPageServer;
  let page: Page;
  let host: Socket;
  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_VIDEO_CODECS: codecs } });
    browser = await startBrowser({ webrtcLoopback: true });
    pageServer = await startMediaPageServer();
  });
  after(async () => {
    host?.close();
    await browser?.close();
    await pageServer?.close();
    await c?.close();
  });

  it('records the camera, then the screen while it is shared, then the camera again', async (t) => {
    const launched = await launchAs(c.platform, { user: { id: 'stage-teacher', name: 'Teacher' }, roles: 'instructor', resourceLink: { id: 'stage-room', title: 'Stage' } });
    const admission = await connect(c.service, launched.seat!);
    assert.equal(admission.kind, 'welcome');
    host = admission.socket;
    const roomId = c.service.seats.verify(launched.seat!).roomId;
    assert.equal(((await host.emitWithAck('class:start', {})) as Ack).ok, true);

    // The page publishes through the host's socket, saying what each track is (as the widget does):
    // the microphone, the first video (the camera) and any later video (the screen).
    const sources: Record<string, 'camera' | 'microphone' | 'screen'> = {};
    page = await browser.context.newPage();
    await page.exposeFunction('signal', async (op: string, sdp: string) => {
      assert.equal(op, 'publish');
      for (const section of sdp.split(/\r\nm=/).slice(1)) {
        const track = /a=msid:\S+ (\S+)/.exec(section)?.[1];
        if (!track || sources[track]) continue;
        sources[track] = section.startsWith('audio') ? 'microphone' : Object.values(sources).includes('camera') ? 'screen' : 'camera';
      }
      const answer = (await host.timeout(10_000).emitWithAck('media:publish', { sdp, sources })) as Ack;
      if (!answer.ok) throw new Error(answer.error);
      return answer.sdp;
    });
    await page.goto(pageServer.url);

    const started = (await host.emitWithAck('recording:start', {})) as Ack;
    assert.ok(started.ok, started.error ?? '');
    const dir = await recordingFolder(c.service, String(started.recordingId));
    /** What the newest finished segment of the recording shows. */
    const latest = async () => {
      const names = readPlaylist(await readFile(join(dir, 'index.m3u8'), 'utf8')).names;
      return names.length > 0 ? mostly((await pictures(join(dir, names.at(-1)!), path)).shown) : undefined;
    };
    const onStage = () => {
      const tracks = c.service.classes.get(roomId)?.media.stage() ?? [];
      return tracks.find((track) => track.id === recordingSources(tracks).video)?.source;
    };

    await page.evaluate(`window.startPublishing(${JSON.stringify(cameraCodec)})`);
    await until('the camera chosen for the recording', () => onStage() === 'camera');
    assert.equal(c.service.recordings.state(roomId).videoPath, path);
    await until(`the camera (${camera}) in the recording`, async () => (await latest()) === camera, 30_000);

    await page.evaluate('window.startScreen()');
    await until('the screen chosen for the recording', () => onStage() === 'screen');
    await until('the screen in the recording', async () => (await latest()) === 'screen', 30_000);

    await page.evaluate('window.stopScreen()');
    await until('the camera chosen again', () => onStage() === 'camera');
    await until(`the camera (${camera}) in the recording again`, async () => (await latest()) === camera, 30_000);

    assert.equal(((await host.emitWithAck('recording:stop', {})) as Ack).ok, true);
    const row = (await c.service.recordings.get(String(started.recordingId)))!;
    assert.equal(row.status, 'ready');
    // The whole VOD, frame by frame, in order (black frames aside: the slate before the camera, and
    // the fake camera's own dark moments): camera, then screen, then camera.
    const { shown: frames, sizes } = await pictures(join(dir, 'index.m3u8'), path);
    const shown: Picture[] = [];
    for (const f of frames) if (f !== 'black' && shown.at(-1) !== f) shown.push(f);
    const count = (p: Picture) => frames.filter((f) => f === p).length;
    const sized = [...new Set(sizes)];
    t.diagnostic(`${frames.length} frames in ${(await measure(dir)).segments} segments: ${count('camera')} camera, ${count('screen')} screen, ${count('black')} black; sizes ${sized.join(', ')}`);
    if (camera === 'camera') assert.deepEqual(shown, ['camera', 'screen', 'camera']);
    else assert.deepEqual([shown, count('camera') === 0, count('black') > 0], [['screen'], true, true]);
    if (path === 'transcode') assert.deepEqual(sized, ['1280x720']);
    else assert.ok(!sized.includes('1280x720'), sized.join());
    // libx264 (transcoded) writes High profile; Chromium's encoder constrained baseline.
    const { stdout: profile } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'stream=profile', '-of', 'csv=p=0', join(dir, 'index.m3u8')]);
    assert.match(profile, path === 'copy' ? /Baseline/ : /High/);
    assert.equal(((await host.emitWithAck('class:end', {})) as Ack).ok, true);
  });
});
