import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadSettings, parseSettings } from '../../config/index.ts';

function problemsOf(source: Record<string, string>): string[] {
  try {
    parseSettings(source, '/srv/lc');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
}

describe('settings', () => {
  it('uses the embedded defaults when nothing is set', () => {
    const settings = parseSettings({}, '/srv/lc');
    assert.equal(settings.port, 3000);
    assert.equal(settings.publicUrl, 'http://localhost:3000');
    assert.equal(settings.dataDir, '/srv/lc/data');
    assert.equal(settings.recordingsDir, '/srv/lc/data/recordings');
    assert.equal(settings.databaseUrl, undefined);
    assert.equal(settings.redisUrl, undefined);
    assert.equal(settings.ltiKey, undefined);
    assert.deepEqual(settings.rtc, { announcedIp: undefined, minPort: 40000, maxPort: 40999, maxSubscribers: 150, graceSeconds: 15, connectTimeoutSeconds: 20, minVideoKbps: 150, maxVideoKbps: 2500, videoCodecs: ['H264', 'VP8'], engine: 'auto', workers: undefined });
    assert.equal(settings.roomSeatLimit, 300);
    assert.deepEqual(settings.turn, { urls: [], secret: undefined });
    assert.equal(settings.ffmpegPath, 'ffmpeg');
    assert.equal(settings.logLevel, 'info');
  });

  it('reads every documented setting', () => {
    const settings = parseSettings(
      {
        PORT: '8080',
        HOST: '127.0.0.1',
        PUBLIC_URL: 'https://live.example.edu/',
        DATA_DIR: '/var/lib/lc',
        DATABASE_URL: 'postgres://lc:pw@db:5432/lc',
        REDIS_URL: 'redis://cache:6379',
        RECORDINGS_DIR: 'rec',
        LTI_KEY: 'k'.repeat(40),
        RTC_ANNOUNCED_IP: '203.0.113.7',
        RTC_MIN_PORT: '50000',
        RTC_MAX_PORT: '50100',
        MEDIA_MIN_VIDEO_KBPS: '300',
        MEDIA_MAX_VIDEO_KBPS: '1200',
        MEDIA_VIDEO_CODECS: 'vp8',
        TURN_URLS: 'turn:turn.example.edu:3478?transport=udp, turns:turn.example.edu:5349',
        TURN_SECRET: 'shared-secret',
        FFMPEG_PATH: '/usr/bin/ffmpeg',
        LOG_LEVEL: 'debug',
      },
      '/srv/lc',
    );
    assert.equal(settings.port, 8080);
    assert.equal(settings.host, '127.0.0.1');
    assert.equal(settings.publicUrl, 'https://live.example.edu');
    assert.equal(settings.dataDir, '/var/lib/lc');
    assert.equal(settings.recordingsDir, '/srv/lc/rec');
    assert.equal(settings.databaseUrl, 'postgres://lc:pw@db:5432/lc');
    assert.deepEqual(settings.rtc, { announcedIp: '203.0.113.7', minPort: 50000, maxPort: 50100, maxSubscribers: 150, graceSeconds: 15, connectTimeoutSeconds: 20, minVideoKbps: 300, maxVideoKbps: 1200, videoCodecs: ['VP8'], engine: 'auto', workers: undefined });
    assert.deepEqual(settings.turn.urls, ['turn:turn.example.edu:3478?transport=udp', 'turns:turn.example.edu:5349']);
    assert.equal(settings.logLevel, 'debug');
  });

  it('names the setting, the value and what is expected, one line each', () => {
    const problems = problemsOf({ PORT: 'eighty', LOG_LEVEL: 'loud', RTC_ANNOUNCED_IP: 'my-host' });
    assert.equal(problems.length, 3);
    assert.match(problems[0]!, /^Setting PORT="eighty" is invalid: expected a TCP port number from 0 to 65535\.$/);
    assert.match(problems[1]!, /^Setting RTC_ANNOUNCED_IP="my-host" is invalid: expected .*IPv4 or IPv6/);
    assert.match(problems[2]!, /^Setting LOG_LEVEL="loud" is invalid: expected one of fatal, error/);
    for (const line of problems) assert.ok(!line.includes('\n'));
  });

  it('refuses ports out of range and a range that runs backwards', () => {
    assert.match(problemsOf({ PORT: '70000' })[0]!, /PORT="70000"/);
    assert.match(problemsOf({ RTC_MIN_PORT: '80' })[0]!, /RTC_MIN_PORT="80" is invalid: expected a UDP port number from 1024/);
    assert.match(problemsOf({ RTC_MIN_PORT: '50000', RTC_MAX_PORT: '49000' })[0]!, /RTC_MAX_PORT=49000 .*above RTC_MIN_PORT \(50000\)/);
    assert.match(problemsOf({ MEDIA_MIN_VIDEO_KBPS: '900', MEDIA_MAX_VIDEO_KBPS: '500' })[0]!, /MEDIA_MAX_VIDEO_KBPS=500 .*at least MEDIA_MIN_VIDEO_KBPS \(900\)/);
    assert.match(problemsOf({ MEDIA_MAX_VIDEO_KBPS: 'fast' })[0]!, /MEDIA_MAX_VIDEO_KBPS="fast" is invalid: expected a whole number of kbit\/s/);
    assert.deepEqual(parseSettings({ MEDIA_VIDEO_CODECS: ' VP8, h264 ' }).rtc.videoCodecs, ['VP8', 'H264']);
    assert.equal(parseSettings({ MEDIA_WORKERS: '3' }).rtc.workers, 3);
    assert.equal(parseSettings({ MEDIA_WORKERS: 'auto' }).rtc.workers, undefined);
    assert.match(problemsOf({ MEDIA_WORKERS: 'many' })[0]!, /MEDIA_WORKERS="many" is invalid: expected auto, or a whole number of workers/);
    assert.match(problemsOf({ MEDIA_WORKERS: '65' })[0]!, /MEDIA_WORKERS="65" is invalid/);
    assert.equal(parseSettings({ MEDIA_ENGINE: 'werift' }).rtc.engine, 'werift');
    assert.match(problemsOf({ MEDIA_ENGINE: 'janus' })[0]!, /MEDIA_ENGINE="janus" is invalid: expected auto, mediasoup or werift/);
    assert.match(problemsOf({ MEDIA_WORKERS: '2', RTC_MIN_PORT: '50000', RTC_MAX_PORT: '50004' })[0]!, /MEDIA_WORKERS=2 is invalid: .*50000-50004.*at least two ports each/);
    for (const bad of ['AV1', 'H264,H264', 'H264,,VP9']) assert.match(problemsOf({ MEDIA_VIDEO_CODECS: bad })[0]!, /MEDIA_VIDEO_CODECS=".*" is invalid: expected H264 and\/or VP8/, bad);
  });

  it('never echoes a secret back', () => {
    const [key] = problemsOf({ LTI_KEY: 'short-secret' });
    assert.match(key!, /^Setting LTI_KEY=\(hidden, 12 characters\) is invalid: expected at least 32 characters/);
    assert.ok(!key!.includes('short-secret'));
    const [url] = problemsOf({ DATABASE_URL: 'mysql://root:hunter2@db/lc' });
    assert.match(url!, /DATABASE_URL="mysql:\/\/root:\*\*\*@db\/lc" is invalid: expected a postgres:\/\//);
    assert.ok(!url!.includes('hunter2'));
  });

  it('refuses a PUBLIC_URL that is not an http(s) URL', () => {
    assert.match(problemsOf({ PUBLIC_URL: 'live.example.edu' })[0]!, /PUBLIC_URL="live.example.edu" is invalid/);
    assert.match(problemsOf({ PUBLIC_URL: 'ftp://live.example.edu' })[0]!, /PUBLIC_URL/);
    assert.match(problemsOf({ PUBLIC_URL: 'https://live.example.edu/?x=1' })[0]!, /PUBLIC_URL/);
  });

  it('asks for TURN_SECRET when TURN_URLS lists a TURN server, not for STUN alone', () => {
    assert.match(problemsOf({ TURN_URLS: 'turn:turn.example.edu:3478' })[0]!, /TURN_SECRET is missing/);
    assert.match(problemsOf({ TURN_URLS: 'http://turn.example.edu' })[0]!, /TURN_URLS="http:\/\/turn.example.edu" is invalid/);
    assert.deepEqual(parseSettings({ TURN_URLS: 'stun:stun.example.edu:3478' }).turn.urls, ['stun:stun.example.edu:3478']);
  });

  it('reads LTI_AUTO_ACTIVATE as a boolean, off by default, and names it when it is not one', () => {
    assert.equal(parseSettings({}, '/srv/lc').ltiAutoActivate, false);
    for (const yes of ['true', 'TRUE', '1', 'yes', 'on']) assert.equal(parseSettings({ LTI_AUTO_ACTIVATE: yes }).ltiAutoActivate, true, yes);
    for (const no of ['false', '0', 'no', 'off']) assert.equal(parseSettings({ LTI_AUTO_ACTIVATE: no }).ltiAutoActivate, false, no);
    assert.deepEqual(problemsOf({ LTI_AUTO_ACTIVATE: 'maybe' }), ['Setting LTI_AUTO_ACTIVATE="maybe" is invalid: expected true or false.']);
    assert.deepEqual(problemsOf({ LTI_AUTO_ACTIVATE: 'constructor' }), ['Setting LTI_AUTO_ACTIVATE="constructor" is invalid: expected true or false.']);
  });

  it('reads the access timings, with defaults that remove a revoked student within a minute', () => {
    assert.deepEqual(parseSettings({}, '/srv/lc').access, { cacheSeconds: 30, recheckSeconds: 30, paymentGraceHours: 24 });
    assert.deepEqual(parseSettings({ ACCESS_CACHE_SECONDS: '0', ACCESS_RECHECK_SECONDS: '60', PAYMENT_GRACE_HOURS: '0' }).access, { cacheSeconds: 0, recheckSeconds: 60, paymentGraceHours: 0 });
    assert.deepEqual(problemsOf({ ACCESS_RECHECK_SECONDS: '120' }), ['Setting ACCESS_RECHECK_SECONDS="120" is invalid: expected a whole number of seconds from 1 to 60.']);
    assert.deepEqual(problemsOf({ ACCESS_RECHECK_SECONDS: '0' }), ['Setting ACCESS_RECHECK_SECONDS="0" is invalid: expected a whole number of seconds from 1 to 60.']);
    assert.deepEqual(problemsOf({ PAYMENT_GRACE_HOURS: '1.5' }), ['Setting PAYMENT_GRACE_HOURS="1.5" is invalid: expected a whole number of hours from 0 to 168.']);
  });

  it('treats an empty value as unset', () => {
    assert.equal(parseSettings({ PORT: '', DATABASE_URL: ' ' }).port, 3000);
    assert.equal(parseSettings({ DATABASE_URL: '' }).databaseUrl, undefined);
  });

  it('reads a .env file for what the environment leaves unset, the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-env-'));
    writeFileSync(join(dir, '.env'), '# local settings\nPORT=4100\nRTC_ANNOUNCED_IP=198.51.100.4\nLOG_LEVEL="warn"\n');
    const settings = loadSettings(dir, { LOG_LEVEL: 'error' });
    assert.equal(settings.port, 4100);
    assert.equal(settings.rtc.announcedIp, '198.51.100.4');
    assert.equal(settings.logLevel, 'error');
    assert.equal(settings.dataDir, join(dir, 'data'));
  });
});
