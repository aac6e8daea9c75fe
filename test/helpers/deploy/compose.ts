// Reading the deployment files for the configuration tests: .env.example, the compose files with
// compose's own variable interpolation, port and volume specs, addresses, and coturn's options.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { read, ROOT } from './files.ts';


export type Json = unknown;
export type Dict = Record<string, Json>;
export const isDict = (value: Json): value is Dict => typeof value === 'object' && value !== null && !Array.isArray(value);
export function dict(value: Json, what: string): Dict {
  assert.ok(isDict(value), `${what} should be a mapping`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// .env.example
// ---------------------------------------------------------------------------------------------

interface EnvLine {
  name: string;
  value: string;
  commented: boolean;
  /** The comment paragraph that describes this variable (its heading names it). */
  description: string | undefined;
}

const SETTING_LINE = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/;

function parseEnvExample(text: string): Map<string, EnvLine> {
  const paragraphs: string[][] = [[]];
  for (const line of text.split('\n')) {
    if (line.trim() === '') paragraphs.push([]);
    else paragraphs.at(-1)?.push(line.trim());
  }
  const lines = new Map<string, EnvLine>();
  for (const paragraph of paragraphs) {
    const prose = paragraph.filter((l) => l.startsWith('#') && !SETTING_LINE.test(l));
    // "# RTC_MIN_PORT / RTC_MAX_PORT: UDP port range ..." names the variables it describes.
    const described = new Set<string>();
    for (const l of prose) {
      const heading = /^#\s*([A-Z][A-Z0-9_]*(?:\s*\/\s*[A-Z][A-Z0-9_]*)*):/.exec(l);
      for (const name of heading?.[1]?.split('/') ?? []) described.add(name.trim());
    }
    for (const l of paragraph) {
      const m = SETTING_LINE.exec(l);
      if (!m) continue;
      const name = m[2] as string;
      assert.ok(!lines.has(name), `.env.example has ${name} twice`);
      lines.set(name, {
        name,
        value: (m[3] as string).trim(),
        commented: m[1] !== undefined,
        description: described.has(name) ? prose.join(' ') : undefined,
      });
    }
  }
  return lines;
}

export const envExample = parseEnvExample(read('.env.example'));

/** What `cp .env.example .env` gives: the lines that are set. */
export const envFileValues: Record<string, string> = Object.fromEntries(
  [...envExample.values()].filter((l) => !l.commented && l.value !== '').map((l) => [l.name, l.value]),
);

/** A value an operator would generate for a required secret that .env.example leaves blank (one per name, as openssl rand -hex would). */
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|KEY)$/;
const standInSecret = (name: string): string => createHash('sha256').update(name).digest('hex').slice(0, 48);

// ---------------------------------------------------------------------------------------------
// Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, $VAR, $$
// ---------------------------------------------------------------------------------------------

interface Reference {
  name: string;
  required: boolean;
}

type Lookup = (name: string, required: boolean) => string | undefined;

export function interpolate(text: string, lookup: Lookup, refs: Reference[]): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}') depth--;
      }
      assert.equal(depth, 0, `unclosed \${ in ${JSON.stringify(text)}`);
      const inner = text.slice(i + 2, j - 1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(inner);
      assert.ok(m, `bad substitution \${${inner}}`);
      const name = m[1] as string;
      const op = m[2];
      const arg = m[3] ?? '';
      const required = op === ':?' || op === '?';
      refs.push({ name, required });
      const value = lookup(name, required);
      const empty = value === undefined || (op?.startsWith(':') === true && value === '');
      if (op === ':-' || op === '-') out += empty ? interpolate(arg, lookup, refs) : value;
      else if (op === ':+' || op === '+') out += empty ? '' : interpolate(arg, lookup, refs);
      else if (required) {
        if (empty) throw new Error(`${name} is required: ${arg}`);
        out += value;
      } else out += value ?? '';
      i = j;
      continue;
    }
    const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (bare) {
      refs.push({ name: bare[0], required: false });
      out += lookup(bare[0], false) ?? '';
      i += 1 + bare[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

export function interpolateDeep(value: Json, lookup: Lookup, refs: Reference[]): Json {
  if (typeof value === 'string') return interpolate(value, lookup, refs);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, lookup, refs));
  if (isDict(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, lookup, refs)]));
  return value;
}

/**
 * The values compose would see once the operator has filled in .env: .env.example's values; for a
 * variable the file requires but .env.example leaves blank, its commented example, or a generated
 * secret for a password, secret, token or key.
 */
export const operatorLookup: Lookup = (name, required) => {
  const set = envFileValues[name];
  if (set !== undefined) return set;
  if (!required) return undefined;
  const line = envExample.get(name);
  assert.ok(line, `${name} is required by a compose file but .env.example does not mention it`);
  if (line.value !== '') return line.value;
  assert.match(name, SECRET_NAME, `${name} is required by a compose file but .env.example gives no example value`);
  return standInSecret(name);
};

// ---------------------------------------------------------------------------------------------
// Compose helpers
// ---------------------------------------------------------------------------------------------

export interface Compose {
  file: string;
  dir: string;
  raw: Dict;
  resolved: Dict;
  refs: Reference[];
}

export function loadCompose(file: string): Compose {
  const raw = dict(parseYaml(read(file)) as Json, file);
  const refs: Reference[] = [];
  const resolved = dict(interpolateDeep(raw, operatorLookup, refs), file);
  return { file, dir: dirname(join(ROOT, file)), raw, resolved, refs };
}

export const servicesOf = (compose: Compose): Dict => dict(compose.resolved.services, `${compose.file} services`);
export const service = (compose: Compose, name: string): Dict => dict(servicesOf(compose)[name], `${compose.file} service ${name}`);

export function environmentOf(svc: Dict): Record<string, string> {
  const env = svc.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const text = String(entry);
        const at = text.indexOf('=');
        return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(dict(env, 'environment')).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

export function envFilesOf(compose: Compose, svc: Dict): string[] {
  const files = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
  return files.map((f) => resolve(compose.dir, isDict(f) ? String(f.path) : String(f)));
}

export interface PortMapping {
  hostIp: string | undefined;
  published: [number, number] | undefined;
  target: [number, number];
  protocol: string;
}

export function range(text: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  assert.ok(m, `bad port or range ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

export function portsOf(svc: Dict): PortMapping[] {
  const ports = (svc.ports ?? []) as Json[];
  assert.ok(Array.isArray(ports), 'ports should be a list');
  return ports.map((entry) => {
    if (isDict(entry)) {
      return {
        hostIp: entry.host_ip === undefined ? undefined : String(entry.host_ip),
        published: entry.published === undefined ? undefined : range(String(entry.published)),
        target: range(String(entry.target)),
        protocol: String(entry.protocol ?? 'tcp'),
      };
    }
    let text = String(entry);
    let protocol = 'tcp';
    const slash = text.lastIndexOf('/');
    if (slash >= 0) {
      protocol = text.slice(slash + 1);
      text = text.slice(0, slash);
    }
    const parts = text.split(':');
    const target = range(parts.pop() as string);
    const published = parts.length > 0 ? range(parts.pop() as string) : undefined;
    const hostIp = parts.length > 0 ? parts.join(':').replace(/^\[|\]$/g, '') : undefined;
    return { hostIp, published, target, protocol };
  });
}

export interface Mount {
  source: string | undefined;
  target: string;
  type: 'volume' | 'bind';
}

export function mountsOf(svc: Dict): Mount[] {
  const volumes = (svc.volumes ?? []) as Json[];
  return volumes.map((entry) => {
    if (isDict(entry)) {
      return { source: entry.source === undefined ? undefined : String(entry.source), target: String(entry.target), type: entry.type === 'bind' ? 'bind' : 'volume' };
    }
    const parts = String(entry).split(':');
    if (parts.length === 1) return { source: undefined, target: parts[0] as string, type: 'volume' };
    const source = parts[0] as string;
    const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
    return { source, target: parts[1] as string, type: bind ? 'bind' : 'volume' };
  });
}

/** The mount that holds `path` inside the container (the deepest one), if any. */
export function mountHolding(mounts: Mount[], path: string): Mount | undefined {
  const holding = mounts.filter((m) => path === m.target || path.startsWith(`${m.target.replace(/\/$/, '')}/`));
  return holding.sort((a, b) => b.target.length - a.target.length)[0];
}

export function seconds(duration: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|us|h|m|s)/g;
  let matched = '';
  for (const m of duration.matchAll(re)) {
    matched += m[0];
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : m[2] === 'ms' ? n / 1000 : n / 1e6;
  }
  assert.equal(matched, duration, `bad duration ${JSON.stringify(duration)}`);
  return total;
}

// ---------------------------------------------------------------------------------------------
// IP helpers (for coturn's denied/allowed peers)
// ---------------------------------------------------------------------------------------------

function ipValue(ip: string): { family: 4 | 6; n: bigint } {
  const family = isIP(ip);
  assert.ok(family === 4 || family === 6, `not an IP address: ${ip}`);
  if (family === 4) return { family, n: ip.split('.').reduce((acc, part) => (acc << 8n) + BigInt(part), 0n) };
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipValue(v4[1] as string).n;
    text = `${text.slice(0, -(v4[1] as string).length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { family, n: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

export function inRange(ip: string, spec: string): boolean {
  const [low = '', high = low] = spec.split('-');
  const a = ipValue(ip);
  const lo = ipValue(low.trim());
  const hi = ipValue(high.trim());
  return a.family === lo.family && lo.n <= a.n && a.n <= hi.n;
}

export function isLoopbackOrPrivate(ip: string): boolean {
  return ['127.0.0.0-127.255.255.255', '10.0.0.0-10.255.255.255', '172.16.0.0-172.31.255.255', '192.168.0.0-192.168.255.255', '::1', 'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].some(
    (spec) => inRange(ip, spec),
  );
}

// ---------------------------------------------------------------------------------------------
// coturn: the config file it is given plus its command line
// ---------------------------------------------------------------------------------------------

export type Options = Map<string, string[]>;

function addOption(options: Options, key: string, value: string): void {
  options.set(key, [...(options.get(key) ?? []), value]);
}

function parseTurnConf(text: string): Options {
  const options: Options = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z0-9-]+)\s*(?:=\s*(.*))?$/.exec(line);
    assert.ok(m, `turnserver.conf: cannot read ${JSON.stringify(line)}`);
    addOption(options, m[1] as string, (m[2] ?? '').trim());
  }
  return options;
}

export function turnOptions(compose: Compose, coturn: Dict): { file: Options; command: Options; merged: Options } {
  const args = (Array.isArray(coturn.command) ? coturn.command : String(coturn.command ?? '').split(/\s+/)).map(String).filter((a) => a !== '');
  const command: Options = new Map();
  let configPath = '/etc/coturn/turnserver.conf';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-c') {
      configPath = args[++i] as string;
      continue;
    }
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    assert.ok(m, `coturn argument ${JSON.stringify(arg)} is not an option`);
    addOption(command, m[1] as string, m[2] ?? '');
  }
  const mount = mountsOf(coturn).find((m) => m.target === configPath);
  assert.ok(mount?.source, `coturn reads ${configPath}, which no volume provides`);
  assert.equal(mount.type, 'bind', `coturn's ${configPath} should be a file from this repository`);
  const file = parseTurnConf(readFileSync(resolve(compose.dir, mount.source), 'utf8'));
  const merged: Options = new Map(file);
  // coturn: the command line wins over the file.
  for (const [key, values] of command) merged.set(key, key.endsWith('peer-ip') ? [...(file.get(key) ?? []), ...values] : values);
  return { file, command, merged };
}
