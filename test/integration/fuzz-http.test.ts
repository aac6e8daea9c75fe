// Every HTTP route of a real tool process (`node server/main.ts`, embedded database), sent what a
// stranger sends: every method, missing, wrong-type, oversized and control-character bodies,
// queries and headers, generated from a seed. The process must stay alive throughout, answer only
// 4xx (or 2xx/3xx) with readable text and no internal detail, log nothing at error level, and keep
// its memory flat from one round to the next.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { INTERNAL_DETAIL, NASTY_STRINGS, nastyValues, pick, prng } from '../helpers/fuzz.ts';
import { launchAs } from '../helpers/classroom.ts';
import { Platform } from '../helpers/platform/index.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 17);
const ROUNDS = 3;
const PER_ROUND = 400;
const IN_FLIGHT = 8;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

/** What an HTTP client can put in a header: no controls, nothing past Latin-1. */
function headerValue(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\uffff]/g, '?');
}

/** Resident memory of a process, in MiB. */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
}

interface Probe {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

describe('every HTTP route against a stranger (a real tool process)', () => {
  let dataDir: string;
  let platform: Platform;
  let tool: ToolProcess;
  let url: string;
  let hostSeat: string;
  let roomId: string;
  let courseId: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lc-fuzz-http-'));
    platform = await Platform.start({ flavor: 'moodle' });
    // Register the platform in DATA_DIR, as `npm run platform -- add` would, then start the tool on it.
    const setup = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
    const registration = platform.registration();
    await setup.lti.platforms.add(registration, registration.deploymentIds);
    await setup.stop();
    tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    url = await listeningUrl(tool);
    platform.useTool({ loginUrl: `${url}/lti/login`, launchUrl: `${url}/lti/launch`, jwksUrl: `${url}/lti/keys` });
    const teacher = await launchAs(platform, { roles: 'instructor', user: { id: 'fuzz-teacher', name: 'Fuzz Teacher' } });
    assert.ok(teacher.seat, 'the instructor launched');
    hostSeat = teacher.seat;
    roomId = /room-id="([^"]+)"/.exec(teacher.body)?.[1] ?? '';
    const settings = (await (await fetch(`${url}/api/rooms/${roomId}/settings`, { headers: { authorization: `Bearer ${hostSeat}` } })).json()) as { courseId: string };
    courseId = settings.courseId;
  });
  after(async () => {
    await tool?.stop('SIGTERM');
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The requests of one round, from the seed. */
  function probes(round: number): Probe[] {
    const random = prng(SEED * 1000 + round);
    const nasty = () => pick(random, NASTY_STRINGS);
    /** A nasty string as a URL segment (a lone surrogate becomes the bytes no UTF-8 decoder accepts). */
    const segment = () => {
      const value = nasty();
      let encoded: string;
      try {
        encoded = encodeURIComponent(value);
      } catch {
        encoded = '%ED%A0%80';
      }
      return encoded.slice(0, 3000) || 'x';
    };
    const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const paths = [
      () => '/healthz',
      () => '/readyz',
      () => '/metrics',
      () => `/lti/login?iss=${segment()}&login_hint=${segment()}&target_link_uri=${segment()}&client_id=${segment()}`,
      () => `/lti/login?iss=${encodeURIComponent(platform.registration().issuer)}&login_hint=1&target_link_uri=${encodeURIComponent(`${url}/lti/launch`)}&client_id=${segment()}&lti_storage_target=${segment()}`,
      () => '/lti/launch',
      () => `/lti/launch?ltik=${segment()}`,
      () => '/lti/keys',
      () => `/lti/register?openid_configuration=${segment()}&registration_token=${segment()}`,
      () => '/lti/deep-link',
      () => `/lti/assets/${segment()}`,
      () => `/lti/${segment()}`,
      () => '/widget/live-classroom.js',
      () => '/widget/hls.js',
      () => `/vod/${pick(random, [roomId, segment(), '00000000-0000-0000-0000-000000000000'])}/${pick(random, ['index.m3u8', 'segment-00001.ts', segment()])}?u=${segment()}&e=${segment()}&s=${segment()}`,
      () => `/api/rooms/${pick(random, [roomId, segment()])}/settings`,
      () => `/api/rooms/${pick(random, [roomId, segment()])}/refusals`,
      () => `/api/rooms/${pick(random, [roomId, segment()])}/interaction.${pick(random, ['csv', 'json', segment()])}`,
      () => `/api/courses/${pick(random, [courseId, segment()])}/refusals`,
      () => '/admin/api/platforms',
      () => '/admin/api/platforms/activate',
      () => `/admin/api/platforms?issuer=${segment()}&clientId=${segment()}`,
      () => `/socket.io/?EIO=4&transport=polling&t=${segment()}`,
      () => `/socket.io/?EIO=${segment()}&transport=${segment()}&sid=${segment()}`,
      () => `/${segment()}`,
      () => `/${segment()}/${segment()}?${segment()}=${segment()}&a[]=1&a[]=2&b[c]=d`,
    ];
    const bodies: Array<() => Pick<Probe, 'body'> & { type?: string }> = [
      () => ({}),
      () => ({ type: 'application/json', body: JSON.stringify(pick(random, [...nastyValues(), nasty()])) }),
      () => ({ type: 'application/json', body: JSON.stringify({ policy: nasty(), paidThreshold: pick(random, nastyValues()), seatLimit: pick(random, nastyValues()), autoRecord: nasty() }) }),
      () => ({ type: 'application/json', body: JSON.stringify({ platform: { name: nasty(), issuer: nasty(), clientId: nasty(), authUrl: nasty(), tokenUrl: nasty(), jwksUrl: nasty() }, deploymentIds: [nasty()] }) }),
      () => ({ type: 'application/json', body: '{"broken": ' }),
      () => ({ type: 'application/json', body: '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}' }),
      () => ({ type: 'application/x-www-form-urlencoded', body: `state=${segment()}&id_token=${segment()}&ltik=${segment()}&title=${segment()}&duration=${segment()}&policy=${segment()}` }),
      () => ({ type: 'application/x-www-form-urlencoded', body: 'state=a&state=b&id_token=c&__proto__[x]=1' }),
      () => ({ type: 'application/x-www-form-urlencoded', body: `id_token=${'e'.repeat(300 * 1024)}` }),
      () => ({ type: 'text/plain', body: nasty() }),
      () => ({ type: 'multipart/form-data; boundary=x', body: `--x\r\nContent-Disposition: form-data; name="state"\r\n\r\n${nasty()}\r\n--x--\r\n` }),
      () => ({ type: pick(random, ['application/xml', 'application/octet-stream', 'image/png', headerValue(nasty().slice(0, 100)) || 'x/y']), body: nasty() }),
      () => ({ type: 'application/json', body: JSON.stringify({ big: 'z'.repeat(2 * 1024 * 1024) }) }),
    ];
    const out: Probe[] = [];
    for (let i = 0; i < PER_ROUND; i++) {
      const method = pick(random, METHODS);
      const path = pick(random, paths)();
      const { type, body } = pick(random, bodies)();
      const headers: Record<string, string> = {};
      if (type !== undefined) headers['content-type'] = type;
      const auth = random();
      if (auth < 0.25) headers.authorization = `Bearer ${hostSeat}`;
      else if (auth < 0.35) headers.authorization = `Bearer ${adminToken}`;
      else if (auth < 0.5) headers.authorization = headerValue(pick(random, [`Bearer ${nasty()}`, 'Basic Zm9vOmJhcg==', `LTIK-AUTH-V1 Token=${nasty()}, Additional=Bearer x`, 'Bearer']));
      if (random() < 0.1) headers.cookie = `state${segment()}=${segment()}; lc_cookie_check=1`;
      if (random() < 0.1) headers['sec-fetch-dest'] = 'iframe';
      if (random() < 0.05) headers['x-forwarded-for'] = segment().replace(/[^\w.:,-]/g, '') || '1.2.3.4';
      out.push({ method, path, headers, ...(method === 'GET' || method === 'HEAD' ? {} : body === undefined ? {} : { body }) });
    }
    return out;
  }

  it(`answers ${ROUNDS} rounds of ${PER_ROUND} hostile requests with 4xx pages, no internal detail, no error in the log, and flat memory`, async (t) => {
    const statuses = new Map<number, number>();
    const rss: number[] = [];
    const pid = tool.child.pid!;
    for (let round = 0; round < ROUNDS; round++) {
      const queue = probes(round);
      let index = 0;
      const failures: string[] = [];
      const retried: string[] = [];
      const worker = async () => {
        while (index < queue.length) {
          const number = index++;
          const probe = queue[number]!;
          const label = `seed ${SEED} round ${round} case ${number}: ${probe.method} ${probe.path.slice(0, 160)} ${probe.headers['content-type'] ?? ''}`;
          let status = 0;
          let text = '';
          const send = async () => {
            const response = await fetch(`${url}${probe.path}`, {
              method: probe.method,
              headers: probe.headers,
              ...(probe.body === undefined ? {} : { body: probe.body }),
              redirect: 'manual',
              signal: AbortSignal.timeout(15_000),
            });
            status = response.status;
            text = await response.text();
          };
          try {
            await send();
          } catch (first) {
            // A kept-alive connection the server closed as the client reused it fails a request
            // without the server at fault: the same request again, on a fresh connection, must be answered.
            try {
              await send();
              retried.push(`${label}: ${describeFailure(first)}`);
            } catch (error) {
              failures.push(`${label}: no answer (${describeFailure(first)}; again: ${describeFailure(error)})`);
              continue;
            }
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status >= 500 && status !== 503) failures.push(`${label}: HTTP ${status} ${text.slice(0, 200)}`);
          // Refusals and failures only: a 200 may be a script of ours (hls.js names its own "params").
          if (status >= 300 && INTERNAL_DETAIL.test(text)) failures.push(`${label}: internal detail in the answer: ${INTERNAL_DETAIL.exec(text)?.[0]} in ${text.slice(0, 300)}`);
          if (status >= 400 && probe.method !== 'HEAD' && text.trim() === '') failures.push(`${label}: HTTP ${status} without a word`);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      assert.equal(tool.child.exitCode, null, `the tool exited during round ${round}: ${tool.stderr().slice(-500)}`);
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures in round ${round}`);
      if (retried.length > 0) t.diagnostic(`round ${round}: answered on a second try: ${retried.join('; ')}`);
      assert.ok(retried.length <= 2, `${retried.length} requests of round ${round} needed a second try: ${retried.slice(0, 5).join('; ')}`);
      rss.push(rssMiB(pid));
    }
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const errors = tool.logs.filter((l) => Number(l.level) >= 50);
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} error lines in the log`);
    t.diagnostic(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    t.diagnostic(`resident memory after each round: ${rss.map((m) => `${m.toFixed(0)} MiB`).join(', ')}`);
    // The first round warms caches and JIT; the later ones must not keep growing.
    assert.ok(rss.at(-1)! - rss[1]! < 64, `memory grew ${(rss.at(-1)! - rss[1]!).toFixed(0)} MiB between rounds 2 and ${ROUNDS}`);
  });
});

/** fetch's failure with its cause (undici puts the socket's error there). */
function describeFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `${(error as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`;
}
