// Every socket event of a real tool process, sent by a student and by a host as a stranger would:
// wrong shapes, wrong types, nasty strings, prototype-pollution keys, extra arguments, no payload,
// payloads up to socket.io's 128 KiB message limit, unknown and odd event names; and forged seat
// tokens at connect. Every event must be answered, refusals in words with no internal detail, the
// process alive throughout, nothing logged at error level, memory flat.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import { SeatTokens } from '../../server/access/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { clientEvents } from '../../server/protocol/index.ts';
import { Service } from '../../server/service.ts';
import { launchAs } from '../helpers/classroom.ts';
import { INTERNAL_DETAIL, mutations, NASTY_STRINGS, nastyValues, pick, prng } from '../helpers/fuzz.ts';
import { Platform } from '../helpers/platform/index.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 17);
const UUID = '00000000-0000-4000-8000-000000000000';

/** A valid payload of each event, for mutating. */
const VALID: Record<string, Record<string, unknown>> = {
  'class:start': {},
  'class:end': {},
  'stage:add': { userId: UUID },
  'stage:remove': { userId: UUID },
  'seat:refresh': {},
  'media:publish': { sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n', sources: { track: 'camera' }, restart: false },
  'media:unpublish': {},
  'media:subscribe': { restart: true },
  'media:answer': { sdp: 'v=0\r\n' },
  'media:state': { camera: true, microphone: false, screen: false },
  'recording:start': {},
  'recording:stop': {},
  'recordings:list': {},
  'recording:auto': { autoRecord: true },
  'recording:rename': { id: UUID, title: 'A title' },
  'recording:delete': { id: UUID },
  'interaction:sync': { chatAfter: 1, chatFrom: 1 },
  'chat:send': { body: 'hello' },
  'chat:delete': { messageId: 1 },
  'chat:mute': { userId: UUID, muted: true },
  'question:ask': { body: 'why?', anonymous: true },
  'question:vote': { questionId: 1 },
  'question:answer': { questionId: 1, answered: true },
  'question:pin': { questionId: 1, pinned: true },
  'hand:raise': {},
  'hand:lower': { userId: UUID },
  'hand:bring': { userId: UUID },
  'poll:create': { question: 'Which?', options: ['a', 'b'] },
  'poll:vote': { pollId: 1, option: 0 },
  'poll:close': { pollId: 1 },
  'poll:share': { pollId: 1, shared: true },
};

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
}

describe('every socket event against a stranger (a real tool process)', () => {
  let dataDir: string;
  let platform: Platform;
  let tool: ToolProcess;
  let url: string;
  const seats: Record<'host' | 'student', string> = { host: '', student: '' };
  const open: Socket[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-fuzz-socket-'));
    platform = await Platform.start({ flavor: 'moodle' });
    const setup = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
    const registration = platform.registration();
    await setup.lti.platforms.add(registration, registration.deploymentIds);
    await setup.stop();
    tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info', MEDIA_CONNECT_TIMEOUT_SECONDS: '2' });
    url = await listeningUrl(tool);
    platform.useTool({ loginUrl: `${url}/lti/login`, launchUrl: `${url}/lti/launch`, jwksUrl: `${url}/lti/keys` });
    const teacher = await launchAs(platform, { roles: 'instructor', user: { id: 'fuzz-teacher', name: 'Fuzz Teacher' } });
    const student = await launchAs(platform, { roles: 'learner', user: { id: 'fuzz-student', name: 'Fuzz Student' } });
    assert.ok(teacher.seat && student.seat);
    seats.host = teacher.seat;
    seats.student = student.seat;
  });
  after(async () => {
    for (const socket of open) socket.close();
    await tool?.stop('SIGTERM');
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A connected, admitted socket for `who` (a fresh one when the last was closed by what it sent). */
  async function admitted(who: 'host' | 'student'): Promise<Socket> {
    const socket = io(url, { auth: { seat: seats[who] }, transports: ['websocket'], reconnection: false, forceNew: true });
    open.push(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${who} was not welcomed within 5 s`)), 5_000);
      socket.once('welcome', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect_error', (error) => reject(error));
      socket.once('access:revoked', ({ reason }: { reason: string }) => reject(new Error(`${who} refused: ${reason}`)));
    });
    // Seats live minutes: keep a fresh one for the next connection.
    const fresh = (await socket.timeout(5_000).emitWithAck('seat:refresh', {})) as { ok: boolean; seat?: string };
    if (fresh.ok && fresh.seat) seats[who] = fresh.seat;
    return socket;
  }

  /** Payloads for one event: its valid shape mutated, nasty values, and sizes up to the message limit. */
  function payloads(event: string, random: () => number): unknown[] {
    const valid = Object.hasOwn(VALID, event) ? (VALID[event] as Record<string, unknown>) : {};
    return [
      ...mutations(valid, random),
      ...nastyValues().filter(() => random() < 0.3),
      ...NASTY_STRINGS.filter(() => random() < 0.15),
      large(valid),
    ];
  }

  /** Payloads near socket.io's 128 KiB message limit (sent alone: the limit is per message). */
  const LARGE = new WeakSet<object>();
  function large(valid: Record<string, unknown>): Record<string, unknown> {
    const keys = Object.keys(valid).length > 0 ? Object.keys(valid) : ['padding'];
    const payload = { ...valid, ...Object.fromEntries(keys.map((k) => [k, 'w'.repeat(Math.floor((100 * 1024) / keys.length))])) };
    LARGE.add(payload);
    return payload;
  }

  it('answers every event of every kind, from a student and a host, with refusals in words', async (t) => {
    const random = prng(SEED);
    const names = [...Object.keys(clientEvents), 'nonsense', '', 'x'.repeat(2000), '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'error', 'welcome', 'newlistener', 7, -1, 1.5];
    const failures: string[] = [];
    let sent = 0;
    let answered = 0;
    let reconnections = 0;
    const rss: number[] = [];
    for (const who of ['student', 'host'] as const) {
      let socket = await admitted(who);
      if (who === 'host') await socket.timeout(5_000).emitWithAck('class:start', {});
      for (const name of names) {
        for (const payload of payloads(String(name), random)) {
          const shape = random();
          // A message past socket.io's limit closes the connection unanswered: large payloads go alone.
          const large = (typeof payload === 'object' && payload !== null && LARGE.has(payload)) || (JSON.stringify(payload)?.length ?? 0) > 50 * 1024;
          const args: unknown[] = shape < 0.7 || large ? [payload] : shape < 0.8 ? [] : shape < 0.9 ? [payload, pick(random, nastyValues())] : [payload, () => {}, payload];
          const label = `seed ${SEED} ${who} ${JSON.stringify(name).slice(0, 40)} ${JSON.stringify(payload)?.slice(0, 120)} (${args.length} args)`;
          if (!socket.connected) {
            reconnections++;
            socket = await admitted(who);
            if (who === 'host') await socket.timeout(5_000).emitWithAck('class:start', {});
          }
          sent++;
          try {
            const answer = (await socket.timeout(5_000).emitWithAck(name as string, ...args)) as { ok?: unknown; error?: unknown };
            answered++;
            if (typeof answer?.ok !== 'boolean') failures.push(`${label}: not an answer: ${JSON.stringify(answer).slice(0, 200)}`);
            else if (answer.ok === false && (typeof answer.error !== 'string' || answer.error === '')) failures.push(`${label}: a refusal without words`);
            if (INTERNAL_DETAIL.test(JSON.stringify(answer))) failures.push(`${label}: internal detail: ${JSON.stringify(answer).slice(0, 300)}`);
          } catch (error) {
            failures.push(`${label}: no answer (${(error as Error).message}; connected ${socket.connected})`);
          }
          if (sent % 200 === 0) {
            assert.equal(tool.child.exitCode, null, `the tool exited: ${tool.stderr().slice(-500)}`);
            rss.push(rssMiB(tool.child.pid!));
          }
        }
      }
      socket.close();
    }
    t.diagnostic(`${sent} events sent, ${answered} answered, ${reconnections} reconnections (a host may end its own class; its seat may move it off stage)`);
    t.diagnostic(`resident memory every 200 events: ${rss.map((m) => m.toFixed(0)).join(' ')} MiB`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    assert.equal(tool.child.exitCode, null);
    const errors = tool.logs.filter((l) => Number(l.level) >= 50);
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} error lines in the log`);
    assert.ok(rss.at(-1)! - rss[1]! < 96, `memory grew ${(rss.at(-1)! - rss[1]!).toFixed(0)} MiB`);
  });

  it('refuses forged, tampered, expired and malformed seats at connect, in words', async () => {
    const key = readFileSync(join(dataDir, 'lti.key'), 'utf8').trim();
    const real = seats.student;
    const [payload, signature] = real.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const sign = (c: Record<string, unknown>) => {
      // A token signed with another key, and one with the tool's own key but expired.
      const other = new SeatTokens('x'.repeat(40));
      return other.issue(c as never);
    };
    const expired = new SeatTokens(key).issue(claims as never, Date.now() - 3600_000);
    const forged: unknown[] = [
      undefined,
      '',
      'garbage',
      'a.b.c',
      `${payload}.${signature.slice(0, -2)}xx`,
      `${Buffer.from(JSON.stringify({ ...claims, role: 'host' })).toString('base64url')}.${signature}`,
      sign(claims),
      expired,
      'x'.repeat(100 * 1024),
      42,
      { seat: real },
      ['array'],
      `${payload}.${signature}\u0000`,
    ];
    for (const seat of forged) {
      const socket = io(url, { auth: { seat, client: pick(prng(1), NASTY_STRINGS) }, transports: ['websocket'], reconnection: false, forceNew: true });
      const verdict = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('no answer within 5 s'), 5_000);
        socket.once('connect_error', (error) => {
          clearTimeout(timer);
          resolve(`refused: ${error.message}`);
        });
        socket.once('welcome', () => {
          clearTimeout(timer);
          resolve('welcomed');
        });
        socket.once('disconnect', (reason) => {
          clearTimeout(timer);
          resolve(`closed: ${reason}`);
        });
      });
      socket.close();
      const label = `${JSON.stringify(seat)?.slice(0, 60)}`;
      assert.match(verdict, /^(refused: .*(seat|launch)|closed: transport close)/, `${label}: ${verdict}`);
      assert.doesNotMatch(verdict, INTERNAL_DETAIL, label);
    }
    assert.equal(tool.child.exitCode, null);
    assert.deepEqual(tool.logs.filter((l) => Number(l.level) >= 50).slice(0, 5), []);
  });
});
