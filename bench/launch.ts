// Launches per second and latency of the whole LTI 1.3 launch, as a learner's browser performs it:
// login initiation (tool) -> auth redirect (platform signs the id_token) -> launch POST (tool
// verifies it, fetches the platform's JWKS, writes course/user/membership/room/decision) -> class
// page received. The tool runs as `npm start` would (its own process, embedded PGlite database);
// the platform simulator and the browser run in this process. Sequential, then a few in flight.
// Usage: node bench/launch.ts [launches per run (200)] [seconds per run (60)] [concurrency list (1,4)] [--postgres URL]
// With --postgres (a server URL, e.g. postgres://postgres@127.0.0.1:5432/test) the tool runs on a
// throw-away database of that server instead of the embedded PGlite.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSettings } from '../config/index.ts';
import { createLogger } from '../server/logger/index.ts';
import { Service } from '../server/service.ts';
import { Platform, type Claims } from '../test/helpers/platform/index.ts';
import { createTemporaryDatabase, type TemporaryDatabase } from '../test/helpers/postgres.ts';
import { listeningUrl, startTool } from '../test/helpers/tool-process.ts';
import { formatMs, percentile } from './stats.ts';

const flag = process.argv.indexOf('--postgres');
const postgresUrl = flag === -1 ? undefined : process.argv[flag + 1];
const positional = flag === -1 ? process.argv.slice(2) : [...process.argv.slice(2, flag), ...process.argv.slice(flag + 2)];
const launches = Number(positional[0] ?? 200);
const seconds = Number(positional[1] ?? 60);
const concurrencies = (positional[2] ?? '1,4').split(',').map(Number);
const WARM_UP = 10;

interface Sample {
  /** Login initiation and the platform's auth answer (includes the simulator signing the id_token). */
  login: number;
  /** The id_token form POST to the tool until the class page is received (tool only, plus one JWKS fetch it makes). */
  launch: number;
  total: number;
}

const dataDir = mkdtempSync(join(tmpdir(), 'lc-bench-launch-'));
const platform = await Platform.start({ flavor: 'moodle' });
let tool: ReturnType<typeof startTool> | undefined;
let database: TemporaryDatabase | undefined;
try {
  if (postgresUrl) database = await createTemporaryDatabase(postgresUrl);
  const storage: Record<string, string> = database ? { DATABASE_URL: database.url } : {};
  // Register the platform in DATA_DIR (as `npm run platform -- add` would), then start the tool on it.
  const setup = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...storage }), createLogger('silent'));
  await setup.whenDatabaseReady();
  const registration = platform.registration();
  await setup.lti.platforms.add(registration, registration.deploymentIds);
  await setup.stop();
  tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info', ...storage });
  const url = await listeningUrl(tool);
  // With a database server the tool listens before the database is ready.
  for (let tries = 0; (await fetch(`${url}/readyz`)).status !== 200; tries++) {
    if (tries > 100) throw new Error('the tool did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  platform.useTool({ loginUrl: `${url}/lti/login`, launchUrl: `${url}/lti/launch`, jwksUrl: `${url}/lti/keys` });

  let userNumber = 0;
  let lastClaims: Claims | undefined;
  const errors: string[] = [];
  async function oneLaunch(): Promise<Sample | undefined> {
    const id = `student-${++userNumber}`;
    const started = performance.now();
    const prepared = await platform.prepareLaunch({ roles: 'learner', user: { id, name: `Student ${userNumber}` } });
    const loggedIn = performance.now();
    const { response } = await platform.postLaunch(prepared);
    const done = performance.now();
    lastClaims = prepared.idTokenClaims;
    if (response.status !== 200 || !response.body.includes('seat-token=')) {
      errors.push(`HTTP ${response.status}: ${response.body.slice(0, 200)}`);
      return undefined;
    }
    return { login: loggedIn - started, launch: done - loggedIn, total: done - started };
  }

  for (let i = 0; i < WARM_UP; i++) await oneLaunch();

  console.log(
    `LTI launch (login -> auth -> signed id_token POST -> class page), ${database ? 'PostgreSQL server' : 'embedded PGlite'}, tool in its own process, ` +
      `Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`,
  );
  console.log(`  up to ${launches} launches or ${seconds} s per run, after ${WARM_UP} warm-up launches; every launch a new learner in one course`);
  for (const concurrency of concurrencies) {
    const samples: Sample[] = [];
    const errorsBefore = errors.length;
    const jwksBefore = platform.jwksFetches;
    let started = 0;
    const begin = performance.now();
    const deadline = begin + seconds * 1000;
    const worker = async () => {
      while (started < launches && performance.now() < deadline) {
        started++;
        const sample = await oneLaunch().catch((error: unknown) => {
          errors.push(String(error));
          return undefined;
        });
        if (sample) samples.push(sample);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const wall = (performance.now() - begin) / 1000;
    const failed = errors.length - errorsBefore;
    const pick = (key: keyof Sample) => samples.map((s) => s[key]);
    const line = (label: string, values: number[]) =>
      `    ${label.padEnd(30)} p50 ${formatMs(percentile(values, 50)).padStart(8)}  p99 ${formatMs(percentile(values, 99)).padStart(8)}`;
    console.log(
      `  ${concurrency} in flight: ${samples.length} launches in ${wall.toFixed(1)} s = ${(samples.length / wall).toFixed(1)} launches/s` +
        `${failed > 0 ? `, ${failed} FAILED` : ''}, ${((platform.jwksFetches - jwksBefore) / Math.max(1, started)).toFixed(2)} JWKS fetches per launch`,
    );
    console.log(line('whole launch', pick('total')));
    console.log(line('  login + auth (incl. signing)', pick('login')));
    console.log(line('  id_token POST -> class page', pick('launch')));
  }

  // The simulator's own share: signing one id_token (RS256, 2048-bit) as the auth endpoint does.
  if (lastClaims) {
    const signing: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await platform.sign(lastClaims);
      signing.push(performance.now() - t);
    }
    console.log(
      `  simulator cost: signing one id_token p50 ${formatMs(percentile(signing, 50))}  p99 ${formatMs(percentile(signing, 99))} ` +
        '(runs in this process, inside "login + auth"; the tool does not pay it in production)',
    );
  }
  if (errors.length > 0) console.log(`  first failure: ${errors[0]}`);
} finally {
  await tool?.stop('SIGTERM');
  await platform.close();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
