// Chat under load: N connected socket.io clients in one room (real LTI launches), M messages per
// second from participants taken in turn (each stays under the 5-in-5-s rate limit), for S seconds.
// Every client records when each message reaches it; prints delivery latency p50/p99/max (send
// to receive, one clock: senders and receivers live in this process), deliveries lost, refusals,
// and the CPU of the tool (its own process, embedded PGlite) and of this process (the clients).
// Usage: node bench/chat.ts [clients (300)] [messages per second (50)] [seconds (20)]
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { parseSettings } from '../config/index.ts';
import { createLogger } from '../server/logger/index.ts';
import type { ChatView } from '../server/protocol/index.ts';
import { Service } from '../server/service.ts';
import { Platform } from '../test/helpers/platform/index.ts';
import { listeningUrl, startTool } from '../test/helpers/tool-process.ts';
import { cpuSecondsOf, formatMs, percentile } from './stats.ts';

const clients = Number(process.argv[2] ?? 300);
const rate = Number(process.argv[3] ?? 50);
const seconds = Number(process.argv[4] ?? 20);
const DRAIN_MS = 5_000;

const cpuSeconds = (pid: number) => cpuSecondsOf(`/proc/${pid}/stat`);

const dataDir = mkdtempSync(join(tmpdir(), 'lc-bench-chat-'));
const platform = await Platform.start({ flavor: 'moodle' });
let tool: ReturnType<typeof startTool> | undefined;
const sockets: Socket[] = [];
try {
  const setup = await Service.start(parseSettings({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), createLogger('silent'));
  const registration = platform.registration();
  await setup.lti.platforms.add(registration, registration.deploymentIds);
  await setup.stop();
  tool = startTool({ DATA_DIR: dataDir, LOG_LEVEL: 'info', ROOM_SEAT_LIMIT: String(clients + 10) });
  const url = await listeningUrl(tool);
  platform.useTool({ loginUrl: `${url}/lti/login`, launchUrl: `${url}/lti/launch`, jwksUrl: `${url}/lti/keys` });

  console.log(`chat: ${clients} socket.io clients in one room, ${rate} messages/s for ${seconds} s; tool in its own process (embedded PGlite), Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`);
  const joinStart = performance.now();
  const latencies: number[] = [];
  const sentAt = new Map<number, number>();
  let received = 0;
  let refused = 0;
  let failed = 0;
  const refusals = new Map<string, number>();
  for (let i = 0; i < clients; i++) {
    const prepared = await platform.prepareLaunch({ roles: i === 0 ? 'instructor' : 'learner', user: { id: `bench-${i}`, name: `Participant ${i}` }, resourceLink: { id: 'bench-chat' } });
    const { response } = await platform.postLaunch(prepared);
    const seat = /seat-token="([^"]+)"/.exec(response.body)?.[1];
    if (!seat) throw new Error(`launch ${i} got no seat: HTTP ${response.status}`);
    const socket = io(url, { auth: { seat }, transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('welcome', () => resolve());
      socket.once('access:revoked', ({ reason }: { reason: string }) => reject(new Error(reason)));
      socket.once('connect_error', reject);
    });
    socket.on('chat:message', (m: ChatView) => {
      const seq = Number(/^#(\d+) /.exec(m.body)?.[1]);
      const at = sentAt.get(seq);
      if (at === undefined) return;
      received++;
      latencies.push(performance.now() - at);
    });
    sockets.push(socket);
  }
  console.log(`  ${clients} joined (launch + socket) in ${((performance.now() - joinStart) / 1000).toFixed(1)} s`);

  const toolCpu0 = cpuSeconds(tool.child.pid as number);
  const selfCpu0 = process.cpuUsage();
  const total = rate * seconds;
  const begin = performance.now();
  let seq = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      // As many as the schedule says by now: a late timer sends a small burst instead of dropping the rate.
      const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate));
      while (seq < due) {
        const n = ++seq;
        const socket = sockets[n % sockets.length] as Socket;
        sentAt.set(n, performance.now());
        socket
          .timeout(30_000)
          .emitWithAck('chat:send', { body: `#${n} hello from the benchmark` })
          .then(
            (ack: { ok: boolean; error?: string }) => {
              if (ack.ok) return;
              refused++;
              sentAt.delete(n);
              refusals.set(ack.error ?? '?', (refusals.get(ack.error ?? '?') ?? 0) + 1);
            },
            () => {
              failed++;
            },
          );
      }
      if (seq >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  const sendSeconds = (performance.now() - begin) / 1000;
  const expected = () => sentAt.size * clients;
  const drainUntil = performance.now() + DRAIN_MS;
  while (received < expected() && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
  const elapsed = (performance.now() - begin) / 1000;
  const toolCpu = (cpuSeconds(tool.child.pid as number) - toolCpu0) / elapsed;
  const self = process.cpuUsage(selfCpu0);
  const selfCpu = (self.user + self.system) / 1e6 / elapsed;

  const accepted = sentAt.size;
  const lost = expected() - received;
  console.log(`  sent ${total} in ${sendSeconds.toFixed(1)} s (${(total / sendSeconds).toFixed(1)}/s): ${accepted} accepted, ${refused} refused, ${failed} without an answer`);
  for (const [reason, count] of refusals) console.log(`    refused ${count}x: ${reason}`);
  console.log(`  deliveries: ${received} of ${expected()} (${accepted} messages x ${clients} clients), lost ${lost} (${((lost / Math.max(1, expected())) * 100).toFixed(3)}%)`);
  console.log(`  delivery latency (send -> every client's chat:message): p50 ${formatMs(percentile(latencies, 50))}, p99 ${formatMs(percentile(latencies, 99))}, max ${formatMs(percentile(latencies, 100))}`);
  console.log(`  CPU: tool ${(toolCpu * 100).toFixed(0)}% of a core, clients (this process) ${(selfCpu * 100).toFixed(0)}% of a core`);
} finally {
  for (const socket of sockets) socket.close();
  await tool?.stop();
  await platform.close();
  rmSync(dataDir, { recursive: true, force: true });
}
