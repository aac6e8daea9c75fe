// A second host on this machine whose network a test can really cut: a Linux network namespace
// joined to this one by a veth pair (iproute2; needs root, which CI has). A browser started in
// it (`chromiumIn`) reaches the tool and the platform only across that link:
// - TCP: a relay inside the namespace listens on its own 127.0.0.1 at the services' ports, so
//   page URLs stay http://127.0.0.1:<port> (a secure context for camera and crypto), and sends
//   each connection to the host's end of the link, where a relay here passes it to the services;
// - WebRTC: the SFU offers the host's end of the link as a host candidate (werift gathers every
//   interface), and that is the only server address the namespace can route to.
// Two ways to cut it, both undone by `restore()`:
// - 'silent': packets vanish both ways (a `blackhole` queue on each end) and the link stays up,
//   as when a Wi-Fi router loses its uplink: nothing tells the browser, only missing replies;
// - 'unplugged': the link goes down, as when a cable is pulled or Wi-Fi is switched off: the
//   browser sees its network go (navigator.onLine turns false) and closes its sockets.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from '../../recordings/recorder.ts';
import { CHROMIUM } from './browser.ts';

const IP = '/usr/sbin/ip';
const TC = '/usr/sbin/tc';
const RELAY = new URL('./netns-relay.ts', import.meta.url).pathname;

export interface IsolatedHost {
  /** The namespace's name, for `ip netns exec`. */
  name: string;
  /** This machine's address on the link, as the namespace sees it. */
  hostAddress: string;
  /** An executable that starts Debian's Chromium inside the namespace (for playwright's executablePath). */
  chromium: string;
  /** Nothing crosses the link in either direction until restore(). */
  cut(how: 'silent' | 'unplugged'): void;
  /** What reaches the namespace is held to `kbit` kbit/s (a token bucket on this end), until restore(). */
  limit(kbit: number): void;
  restore(): void;
  close(): Promise<void>;
}

/** Whether this process may make network namespaces (root on Linux with iproute2). */
export function canIsolate(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync(IP, ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return `${IP} is missing or cannot list network namespaces`;
  }
  return undefined;
}

function run(command: string, ...args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const ip = (...args: string[]) => run(IP, ...args);

/** Removes the namespaces (and with them their links) of test runs that died before closing them. */
function removeStale(): void {
  const names = execFileSync(IP, ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((line) => line.split(' ')[0] ?? '');
  for (const name of names) {
    const pid = /^lc-test-(\d+)-/.exec(name)?.[1];
    if (pid && !alive(Number(pid))) run(IP, 'netns', 'delete', name);
  }
}

/** Starts netns-relay.ts with `command` and waits until it listens. */
async function relay([command, ...args]: string[]): Promise<ChildProcess> {
  const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let errors = '';
    child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`a network relay exited (${code}): ${errors.trim()}`)));
  });
  return child;
}

/** Starts a namespace whose browser reaches this machine's 127.0.0.1 `ports` across a veth link. */
export async function isolatedHost(ports: number[]): Promise<IsolatedHost> {
  removeStale();
  const id = `${process.pid % 100_000}${Math.floor(Math.random() * 100)}`;
  const name = `lc-test-${process.pid}-${id}`;
  const hostIf = `lc${id}h`;
  const nsIf = `lc${id}n`;
  const subnet = `10.213.${process.pid % 250}`;
  const hostAddress = `${subnet}.1`;
  const relays: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'lc-netns-'));

  const close = async () => {
    for (const child of relays) child.kill('SIGTERM');
    try {
      ip('netns', 'delete', name); // also removes both ends of the veth pair
    } catch {
      /* never made */
    }
    try {
      ip('link', 'delete', hostIf);
    } catch {
      /* gone with the namespace */
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', name, IP, 'addr', 'add', `${subnet}.2/30`, 'dev', nsIf);
    ip('netns', 'exec', name, IP, 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', name, IP, 'link', 'set', 'lo', 'up');

    // This side: the host's end of the link → the services; that side: the namespace's own
    // 127.0.0.1 → the host's end of the link.
    relays.push(await relay([process.execPath, RELAY, hostAddress, '127.0.0.1', ...ports.map(String)]));
    relays.push(await relay([IP, 'netns', 'exec', name, process.execPath, RELAY, '127.0.0.1', hostAddress, ...ports.map(String)]));

    const chromium = join(dir, 'chromium');
    writeFileSync(chromium, `#!/bin/sh\nexec ${IP} netns exec ${name} ${CHROMIUM} "$@"\n`);
    chmodSync(chromium, 0o755);

    return {
      name,
      hostAddress,
      chromium,
      cut(how) {
        if (how === 'unplugged') return ip('link', 'set', hostIf, 'down');
        run(TC, 'qdisc', 'add', 'dev', hostIf, 'root', 'blackhole');
        ip('netns', 'exec', name, TC, 'qdisc', 'add', 'dev', nsIf, 'root', 'blackhole');
      },
      limit(kbit) {
        run(TC, 'qdisc', 'add', 'dev', hostIf, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', '16kbit', 'latency', '200ms');
      },
      restore() {
        ip('link', 'set', hostIf, 'up');
        const blackholes = [[TC, 'qdisc', 'del', 'dev', hostIf, 'root'], [IP, 'netns', 'exec', name, TC, 'qdisc', 'del', 'dev', nsIf, 'root']];
        for (const [command, ...args] of blackholes) {
          try {
            run(command as string, ...args);
          } catch {
            /* none there */
          }
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
