// The deployment files (Dockerfile, docker-compose.yml, deploy/, .env.example, .dockerignore)
// cannot be built or started here (no Docker engine), so they are checked against the code instead:
// what the server loads at run time, the settings it accepts, and the ports, volumes and secrets
// the services have to agree on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { isIP } from 'node:net';
import { dirname, join, matchesGlob, posix, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseSettings, SETTING_NAMES, type Settings } from '../../config/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Json = unknown;
type Dict = Record<string, Json>;
const isDict = (value: Json): value is Dict => typeof value === 'object' && value !== null && !Array.isArray(value);
function dict(value: Json, what: string): Dict {
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

const envExample = parseEnvExample(read('.env.example'));

/** What `cp .env.example .env` gives: the lines that are set. */
const envFileValues: Record<string, string> = Object.fromEntries(
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

function interpolate(text: string, lookup: Lookup, refs: Reference[]): string {
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

function interpolateDeep(value: Json, lookup: Lookup, refs: Reference[]): Json {
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
const operatorLookup: Lookup = (name, required) => {
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

interface Compose {
  file: string;
  dir: string;
  raw: Dict;
  resolved: Dict;
  refs: Reference[];
}

function loadCompose(file: string): Compose {
  const raw = dict(parseYaml(read(file)) as Json, file);
  const refs: Reference[] = [];
  const resolved = dict(interpolateDeep(raw, operatorLookup, refs), file);
  return { file, dir: dirname(join(ROOT, file)), raw, resolved, refs };
}

const servicesOf = (compose: Compose): Dict => dict(compose.resolved.services, `${compose.file} services`);
const service = (compose: Compose, name: string): Dict => dict(servicesOf(compose)[name], `${compose.file} service ${name}`);

function environmentOf(svc: Dict): Record<string, string> {
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

function envFilesOf(compose: Compose, svc: Dict): string[] {
  const files = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
  return files.map((f) => resolve(compose.dir, isDict(f) ? String(f.path) : String(f)));
}

interface PortMapping {
  hostIp: string | undefined;
  published: [number, number] | undefined;
  target: [number, number];
  protocol: string;
}

function range(text: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  assert.ok(m, `bad port or range ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function portsOf(svc: Dict): PortMapping[] {
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

interface Mount {
  source: string | undefined;
  target: string;
  type: 'volume' | 'bind';
}

function mountsOf(svc: Dict): Mount[] {
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
function mountHolding(mounts: Mount[], path: string): Mount | undefined {
  const holding = mounts.filter((m) => path === m.target || path.startsWith(`${m.target.replace(/\/$/, '')}/`));
  return holding.sort((a, b) => b.target.length - a.target.length)[0];
}

function seconds(duration: string): number {
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

function inRange(ip: string, spec: string): boolean {
  const [low = '', high = low] = spec.split('-');
  const a = ipValue(ip);
  const lo = ipValue(low.trim());
  const hi = ipValue(high.trim());
  return a.family === lo.family && lo.n <= a.n && a.n <= hi.n;
}

function isLoopbackOrPrivate(ip: string): boolean {
  return ['127.0.0.0-127.255.255.255', '10.0.0.0-10.255.255.255', '172.16.0.0-172.31.255.255', '192.168.0.0-192.168.255.255', '::1', 'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].some(
    (spec) => inRange(ip, spec),
  );
}

// ---------------------------------------------------------------------------------------------
// coturn: the config file it is given plus its command line
// ---------------------------------------------------------------------------------------------

type Options = Map<string, string[]>;

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

function turnOptions(compose: Compose, coturn: Dict): { file: Options; command: Options; merged: Options } {
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

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    if (raw.endsWith('\\')) {
      current += `${raw.slice(0, -1)} `;
      continue;
    }
    current += raw;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  return logical.map((line) => {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line) as RegExpExecArray;
    return { op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() };
  });
}

/** An exec-form (JSON) or shell-form argument list. */
function words(args: string): string[] {
  if (args.startsWith('[')) return (JSON.parse(args) as unknown[]).map(String);
  return args.split(/\s+/).filter((w) => w !== '');
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const globalArgs = new Map<string, string>();
for (const ins of dockerfile) {
  if (ins.op === 'FROM') break;
  if (ins.op === 'ARG') {
    const [name = '', value = ''] = ins.args.split('=');
    globalArgs.set(name.trim(), value.trim());
  }
}
const stages: Instruction[][] = [];
for (const ins of dockerfile) {
  if (ins.op === 'FROM') stages.push([]);
  stages.at(-1)?.push(ins);
}
const finalStage = stages.at(-1) ?? [];
const workdir = [...finalStage].reverse().find((i) => i.op === 'WORKDIR')?.args ?? '/';

interface Copy {
  /** Path in the build context. */
  source: string;
  /** Where it lands in the image: a folder's contents go into dest. */
  dest: string;
  isDir: boolean;
}

/** Where each COPY of the final stage puts each of its sources (from the build context only). */
function copiesIntoImage(): Copy[] {
  const out: Copy[] = [];
  for (const ins of finalStage) {
    if (ins.op !== 'COPY') continue;
    const parts = words(ins.args);
    if (parts.some((p) => p.startsWith('--from'))) continue;
    const list = parts.filter((p) => !p.startsWith('--'));
    const rawDest = list.pop() as string;
    const dest = posix.resolve(workdir, rawDest);
    // Docker: with several sources, or a dest ending in / (or the WORKDIR itself), dest is a folder.
    const destIsFolder = list.length > 1 || rawDest.endsWith('/') || dest === workdir;
    for (const source of list) {
      const path = join(ROOT, source);
      assert.ok(existsSync(path), `the Dockerfile copies ${source}, which does not exist`);
      const isDir = statSync(path).isDirectory();
      out.push({ source: posix.normalize(source), dest: isDir || !destIsFolder ? dest : posix.join(dest, posix.basename(source)), isDir });
    }
  }
  return out;
}

/** Whether `path` (in the repository) is in the image at WORKDIR/path. */
function inImage(copies: Copy[], path: string): boolean {
  const wanted = posix.join(workdir, path);
  return copies.some((c) => {
    if (!c.isDir) return c.source === path && c.dest === wanted;
    if (c.source === '.') return posix.join(c.dest, path) === wanted;
    if (path !== c.source && !path.startsWith(`${c.source}/`)) return false;
    return posix.join(c.dest, path.slice(c.source.length)) === wanted;
  });
}

// ---------------------------------------------------------------------------------------------
// What the server loads at run time: relative imports and import.meta.url paths from server/main.ts
// (and the platform CLI, which runs in the same image), and the packages they import.
// ---------------------------------------------------------------------------------------------

const IMPORT = /(?:^|[\n;])\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url|import\.meta\.resolve\(\s*['"]([^'"]+)['"]|\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]/g;

function runtimeGraph(entries: string[]): { files: Set<string>; paths: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const paths = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (m[1] !== undefined) continue; // import type: erased at run time
      const spec = (m[2] ?? m[3] ?? m[4] ?? m[5] ?? m[6]) as string;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!existsSync(target)) continue; // e.g. a URL the browser resolves (widget/hls.js)
        paths.add(relative(ROOT, target));
        if (statSync(target).isFile() && /\.(ts|js|mjs)$/.test(target) && !target.includes('/assets/')) visit(target);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec.split('/')[0] as string)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        if (!packages.has(name)) packages.set(name, relative(ROOT, file));
      }
    }
  };
  for (const entry of entries) visit(join(ROOT, entry));
  for (const file of files) paths.add(relative(ROOT, file));
  return { files, paths, packages };
}

const runtime = runtimeGraph(['server/main.ts', 'lti/cli.ts']);

// ---------------------------------------------------------------------------------------------
// .dockerignore
// ---------------------------------------------------------------------------------------------

const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const exception = l.startsWith('!');
    const pattern = posix.normalize((exception ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, ''));
    return { exception, pattern };
  });

/** Whether the build context leaves `path` out (Docker: the last matching pattern decides; a match on a parent folder counts). */
function ignored(path: string): boolean {
  const ancestry: string[] = [];
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) ancestry.push(parts.slice(0, i).join('/'));
  let out = false;
  for (const { exception, pattern } of dockerignore) {
    if (ancestry.some((p) => matchesGlob(p, pattern))) out = !exception;
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

// =============================================================================================

describe('.env.example', () => {
  it('documents every setting the tool reads, with what it is and its default', () => {
    const missing = SETTING_NAMES.filter((name) => !envExample.has(name));
    assert.deepEqual(missing, [], `.env.example lacks ${missing.join(', ')}`);
    for (const name of SETTING_NAMES) {
      const description = envExample.get(name)?.description;
      assert.ok(description, `.env.example: ${name} has no comment naming it ("# ${name}: what it is; default ...")`);
      assert.match(description, /default/i, `.env.example: the comment on ${name} does not say its default`);
    }
  });

  it('shows real defaults: a commented value is the default unless its comment calls it an example (e.g.)', () => {
    const defaults = parseSettings({}, '/app');
    for (const line of envExample.values()) {
      if (!line.commented || line.value === '' || !(SETTING_NAMES as string[]).includes(line.name)) continue;
      const withValue = parseSettings({ [line.name]: line.value }, '/app');
      let isDefault = true;
      try {
        assert.deepEqual(withValue, defaults);
      } catch {
        isDefault = false;
      }
      if (!isDefault) {
        assert.match(line.description ?? '', /e\.g\./, `.env.example: "# ${line.name}=${line.value}" is not the default and its comment does not say it is an example`);
      }
    }
  });

  it('names only real settings and variables the compose files use (no typos)', () => {
    const composeNames = new Set([...loadCompose('docker-compose.yml').refs, ...loadCompose('deploy/docker-compose.node.yml').refs].map((r) => r.name));
    const unknown = [...envExample.keys()].filter((name) => !(SETTING_NAMES as string[]).includes(name) && !composeNames.has(name));
    assert.deepEqual(unknown, [], `.env.example names variables nothing reads: ${unknown.join(', ')}`);
  });

  it('starts the tool when copied to .env as it is (npm start)', () => {
    const tool = Object.fromEntries(Object.entries(envFileValues).filter(([name]) => (SETTING_NAMES as string[]).includes(name)));
    assert.doesNotThrow(() => parseSettings(tool, '/app'));
  });
});

const COMPOSE_FILES = [
  { file: 'docker-compose.yml', allInOne: true },
  { file: 'deploy/docker-compose.node.yml', allInOne: false },
] as const;

for (const { file, allInOne } of COMPOSE_FILES) {
  describe(file, () => {
    const compose = loadCompose(file);
    const services = servicesOf(compose);
    const app = (): Dict => service(compose, 'app');

    /** The tool's environment in the app container: env_file (.env) overlaid with `environment`. */
    const appEnvironment = (): Record<string, string> => {
      const env: Record<string, string> = {};
      for (const path of envFilesOf(compose, app())) {
        assert.equal(path, join(ROOT, '.env'), `${file}: env_file should be the .env next to .env.example, not ${relative(ROOT, path)}`);
        Object.assign(env, envFileValues);
      }
      return { ...env, ...environmentOf(app()) };
    };
    const settings = (): Settings => {
      try {
        return parseSettings(appEnvironment(), workdir);
      } catch (error) {
        if (error instanceof ConfigError) assert.fail(`${file}: the app's settings are refused:\n${error.problems.join('\n')}`);
        throw error;
      }
    };

    it('has the services', () => {
      const expected = allInOne ? ['app', 'postgres', 'redis', 'coturn'] : ['app', 'coturn'];
      for (const name of expected) assert.ok(isDict(services[name]), `${file}: no ${name} service`);
    });

    it("builds the app from this repository's Dockerfile", () => {
      const build = app().build;
      const context = isDict(build) ? String(build.context ?? '.') : String(build);
      assert.equal(resolve(compose.dir, context), resolve(ROOT), `${file}: the app should be built from the repository's folder`);
      const dockerfilePath = isDict(build) && build.dockerfile !== undefined ? String(build.dockerfile) : 'Dockerfile';
      assert.equal(resolve(ROOT, dockerfilePath), join(ROOT, 'Dockerfile'));
    });

    it('gives every service a health check', () => {
      for (const [name, svc] of Object.entries(services)) {
        const check = dict(svc, name).healthcheck;
        if (check !== undefined) {
          const hc = dict(check, `${name} healthcheck`);
          assert.notEqual(hc.disable, true, `${file}: ${name}'s health check is disabled`);
          assert.ok(hc.test !== undefined && hc.test !== 'NONE' && !(Array.isArray(hc.test) && hc.test[0] === 'NONE'), `${file}: ${name} has an empty health check`);
          continue;
        }
        assert.equal(name, 'app', `${file}: ${name} has no health check`);
        const imageCheck = finalStage.find((i) => i.op === 'HEALTHCHECK');
        assert.ok(imageCheck, `${file}: the app has no health check, nor has the image`);
        assert.match(imageCheck.args, /\/readyz/, 'the image HEALTHCHECK should ask /readyz');
      }
    });

    it("gives the tool's settings values it accepts", () => {
      const s = settings();
      assert.match(s.publicUrl, /^https:\/\//, `${file}: PUBLIC_URL should be the https address behind the proxy`);
      assert.ok(s.rtc.announcedIp, `${file}: RTC_ANNOUNCED_IP must be set: the container's own address is not reachable by browsers`);
      assert.ok(s.databaseUrl, `${file}: DATABASE_URL must be set (PostgreSQL)`);
      assert.ok(s.redisUrl, `${file}: REDIS_URL must be set`);
      assert.ok(s.turn.urls.some((u) => u.startsWith('turn')), `${file}: TURN_URLS should list the TURN server`);
    });

    if (allInOne) {
      it('points DATABASE_URL and REDIS_URL at its own postgres and redis', () => {
        const s = settings();
        const db = new URL(s.databaseUrl as string);
        const pg = environmentOf(service(compose, 'postgres'));
        assert.equal(db.hostname, 'postgres');
        assert.equal(db.port || '5432', '5432');
        assert.equal(decodeURIComponent(db.username), pg.POSTGRES_USER ?? 'postgres', 'DATABASE_URL user vs POSTGRES_USER');
        assert.equal(decodeURIComponent(db.password), pg.POSTGRES_PASSWORD, 'DATABASE_URL password vs POSTGRES_PASSWORD');
        assert.equal(db.pathname.slice(1), pg.POSTGRES_DB ?? pg.POSTGRES_USER ?? 'postgres', 'DATABASE_URL database vs POSTGRES_DB');
        const redis = new URL(s.redisUrl as string);
        assert.equal(redis.hostname, 'redis');
        assert.equal(redis.port || '6379', '6379');
        const dependsOn = dict(app().depends_on, 'app depends_on');
        for (const name of ['postgres', 'redis']) {
          assert.equal(dict(dependsOn[name], `depends_on ${name}`).condition, 'service_healthy', `the app should wait for ${name} to be healthy`);
        }
      });

      it("keeps PostgreSQL's data on a named volume", () => {
        const pg = service(compose, 'postgres');
        const pgdata = environmentOf(pg).PGDATA ?? '/var/lib/postgresql/data';
        const mount = mountHolding(mountsOf(pg), pgdata);
        assert.ok(mount, `postgres keeps ${pgdata} on no volume: the database would go with the container`);
        assert.equal(mount.type, 'volume');
        assert.ok(mount.source && isDict(compose.resolved.volumes) && mount.source in compose.resolved.volumes, 'the postgres volume should be a named volume declared under volumes:');
      });
    }

    it('keeps DATA_DIR and RECORDINGS_DIR on separate named volumes', () => {
      const s = settings();
      const mounts = mountsOf(app());
      const declared = isDict(compose.resolved.volumes) ? compose.resolved.volumes : {};
      const holding = (what: string, path: string): Mount => {
        const mount = mountHolding(mounts, path);
        assert.ok(mount, `${file}: ${what} (${path}) is on no volume: it would go with the container`);
        assert.equal(mount.type, 'volume', `${file}: ${what} should be on a named volume`);
        assert.ok(mount.source !== undefined && mount.source in declared, `${file}: ${what}'s volume should be declared under volumes:`);
        return mount;
      };
      const data = holding('DATA_DIR', s.dataDir);
      const recordings = holding('RECORDINGS_DIR', s.recordingsDir);
      assert.notEqual(recordings.source, data.source, `${file}: recordings should have a volume of their own, not DATA_DIR's`);
      if (!allInOne) {
        const volume = dict(declared[recordings.source as string] ?? {}, 'recordings volume');
        const type = isDict(volume.driver_opts) ? String(volume.driver_opts.type ?? '') : '';
        assert.ok(/^(nfs4?|cifs)$/.test(type) || (volume.driver !== undefined && volume.driver !== 'local'), `${file}: every node must see the same recordings: a shared (NFS) volume`);
      }
    });

    it('publishes RTC_MIN_PORT..RTC_MAX_PORT as the same UDP range', () => {
      const s = settings();
      const udp = portsOf(app()).filter((p) => p.protocol === 'udp');
      assert.equal(udp.length, 1, `${file}: the app should publish one UDP range`);
      const [mapping] = udp as [PortMapping];
      assert.deepEqual(mapping.target, [s.rtc.minPort, s.rtc.maxPort], `${file}: the container's UDP range vs RTC_MIN_PORT..RTC_MAX_PORT`);
      assert.deepEqual(mapping.published, [s.rtc.minPort, s.rtc.maxPort], `${file}: the host's UDP range must equal the container's (browsers are told these port numbers)`);
    });

    it('publishes the HTTP port to the reverse proxy only', () => {
      const s = settings();
      const http = portsOf(app()).filter((p) => p.protocol === 'tcp');
      assert.equal(http.length, 1, `${file}: the app should publish one TCP port`);
      const [mapping] = http as [PortMapping];
      assert.deepEqual(mapping.target, [s.port, s.port], `${file}: the published container port vs PORT`);
      assert.ok(finalStage.some((i) => i.op === 'EXPOSE' && words(i.args).includes(String(s.port))), `the image should EXPOSE ${s.port}`);
      // The tool trusts X-Forwarded-* from private addresses: only the proxy may reach it.
      assert.ok(mapping.hostIp && isIP(mapping.hostIp) && isLoopbackOrPrivate(mapping.hostIp), `${file}: publish the app's HTTP port on a loopback or private address, not ${mapping.hostIp ?? 'every interface'}`);
      assert.ok(s.host === undefined || s.host === '0.0.0.0' || s.host === '::', `${file}: HOST=${s.host} inside the container would not be reachable through the published port`);
    });

    it('leaves time for a drain on SIGTERM', () => {
      const grace = app().stop_grace_period;
      assert.ok(grace !== undefined, `${file}: the app needs stop_grace_period (Docker kills it after 10 s otherwise)`);
      const s = seconds(String(grace));
      assert.ok(s >= 30, `${file}: stop_grace_period ${String(grace)} is under 30 s`);
      const limit = /SHUTDOWN_LIMIT_MS\s*=\s*([\d_]+)/.exec(read('server/main.ts'));
      if (limit) assert.ok(s * 1000 > Number((limit[1] as string).replaceAll('_', '')), `${file}: stop_grace_period ${String(grace)} is shorter than the tool's own shutdown limit`);
    });

    it('gives the app a stable host name (unique per node)', () => {
      const hostname = app().hostname;
      assert.ok(typeof hostname === 'string' && hostname !== '', `${file}: without hostname the container id is the host name, new at every re-creation`);
      if (!allInOne) {
        // Another node (another NODE_ID) must get another host name.
        const raw = dict(dict(compose.raw.services, 'services').app, 'app').hostname;
        const other = interpolate(String(raw), (name, required) => (name === 'NODE_ID' ? 'zz9' : operatorLookup(name, required)), []);
        assert.ok(other.includes('zz9'), `${file}: each node's host name should include its NODE_ID`);
      }
    });

    it('points TURN_URLS at its coturn, which shares TURN_SECRET', () => {
      const s = settings();
      const coturn = service(compose, 'coturn');
      const { file: conf, merged } = turnOptions(compose, coturn);
      const one = (key: string): string | undefined => merged.get(key)?.at(-1);
      assert.ok(merged.has('use-auth-secret'), 'coturn: use-auth-secret (TURN REST credentials) is missing');
      assert.ok(!merged.has('lt-cred-mech'), 'coturn: lt-cred-mech conflicts with use-auth-secret');
      assert.ok(!conf.has('static-auth-secret'), 'turnserver.conf holds a static-auth-secret: keep the secret in .env (TURN_SECRET)');
      assert.equal(one('static-auth-secret'), s.turn.secret, "coturn's static-auth-secret differs from the tool's TURN_SECRET");
      assert.ok(one('realm'), 'coturn: realm is missing');
      assert.ok(merged.has('no-cli'), 'coturn: no-cli is missing');
      assert.equal(one('external-ip'), s.rtc.announcedIp, "coturn's external-ip should be this machine's public address (RTC_ANNOUNCED_IP)");

      const ports = portsOf(coturn);
      const listening = Number(one('listening-port') ?? 3478);
      for (const url of s.turn.urls) {
        const m = /^(stun|turns?):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?transport=(udp|tcp))?$/.exec(url);
        assert.ok(m, `cannot read TURN URL ${url}`);
        const host = (m[2] as string).replace(/^\[|\]$/g, '');
        assert.ok(!(host in services), `${url}: browsers cannot resolve the compose service name ${host}`);
        assert.ok(isIP(host) === 0 || !isLoopbackOrPrivate(host), `${url}: browsers cannot reach a private address`);
        const port = Number(m[3] ?? (m[1] === 'turns' ? 5349 : 3478));
        const protocol = m[4] ?? 'udp';
        assert.equal(port, m[1] === 'turns' ? Number(one('tls-listening-port') ?? 5349) : listening, `${url}: coturn does not listen on ${port}`);
        assert.ok(
          ports.some((p) => p.protocol === protocol && p.published?.[0] === port && p.target[0] === port),
          `${url}: coturn does not publish ${port}/${protocol}`,
        );
      }

      const relay: [number, number] = [Number(one('min-port') ?? 49152), Number(one('max-port') ?? 65535)];
      const published = ports.filter((p) => p.protocol === 'udp' && p.target[0] !== listening);
      assert.equal(published.length, 1, 'coturn should publish one UDP relay range');
      assert.deepEqual(published[0]?.target, relay, "coturn's published relay range vs min-port..max-port");
      assert.deepEqual(published[0]?.published, relay, "coturn's relay range must be published with the same numbers");
    });

    it('keeps coturn from relaying into private networks', () => {
      const s = settings();
      const { merged } = turnOptions(compose, service(compose, 'coturn'));
      const denied = merged.get('denied-peer-ip') ?? [];
      for (const probe of ['127.0.0.1', '10.1.2.3', '172.17.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
        assert.ok(denied.some((spec) => inRange(probe, spec)), `coturn would relay to ${probe}: add a denied-peer-ip range`);
      }
      // allowed-peer-ip wins over denied-peer-ip: only the SFU's own address may be allowed.
      for (const spec of merged.get('allowed-peer-ip') ?? []) {
        assert.equal(spec, s.rtc.announcedIp, `coturn allows relaying to ${spec}: only RTC_ANNOUNCED_IP should be allowed`);
      }
    });

    it('documents every variable it uses in .env.example', () => {
      const undocumented = [...new Set(compose.refs.map((r) => r.name))].filter((name) => !envExample.has(name));
      assert.deepEqual(undocumented, [], `${file} uses variables .env.example does not document`);
    });

    it('stops with a message when a required value is missing', () => {
      const required = [...new Set(compose.refs.filter((r) => r.required).map((r) => r.name))];
      for (const name of ['PUBLIC_URL', 'TURN_SECRET', 'RTC_ANNOUNCED_IP']) assert.ok(required.includes(name), `${file}: \${${name}:?message} should stop compose when ${name} is unset`);
      if (allInOne) assert.ok(required.includes('POSTGRES_PASSWORD'), `${file}: POSTGRES_PASSWORD should be required`);
      else for (const name of ['DATABASE_URL', 'REDIS_URL', 'NODE_ID', 'NODE_URL', 'LTI_KEY']) assert.ok(required.includes(name), `${file}: ${name} should be required on a node of several`);
      // Blank in .env.example, so compose refuses to start until the operator sets it.
      assert.throws(() => interpolateDeep(compose.raw, (name) => envFileValues[name], []), /is required/);
    });
  });
}

describe('Dockerfile', () => {
  it('builds in stages, on Node 24', () => {
    assert.ok(stages.length >= 2, 'the Dockerfile should have a dependencies stage and a runtime stage');
    const base = (finalStage[0]?.args.split(/\s+/)[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs.get(name) ?? '');
    assert.match(base, /^node:24(\b|-|$)/, `the runtime stage should be Node 24 (type stripping), not ${base}`);
  });

  it('runs node server/main.ts as a non-root user under tini', () => {
    const userAt = finalStage.findLastIndex((i) => i.op === 'USER');
    const cmdAt = finalStage.findLastIndex((i) => i.op === 'CMD');
    assert.ok(cmdAt >= 0, 'no CMD');
    assert.ok(userAt >= 0 && userAt < cmdAt, 'USER must be set before CMD');
    const user = finalStage[userAt]?.args.split(':')[0];
    assert.ok(user !== 'root' && user !== '0', `the tool should not run as ${user}`);
    const cmd = words(finalStage[cmdAt]?.args ?? '');
    assert.deepEqual(cmd, ['node', 'server/main.ts']);
    assert.ok(existsSync(join(ROOT, 'server/main.ts')));
    const entrypoint = words(finalStage.findLast((i) => i.op === 'ENTRYPOINT')?.args ?? '[]');
    assert.match(entrypoint[0] ?? '', /tini$/, 'tini should be PID 1 (signals, FFmpeg children)');
  });

  it('installs FFmpeg and tini in the runtime image', () => {
    const installs = finalStage.filter((i) => i.op === 'RUN' && /apt-get\s+install/.test(i.args)).map((i) => words(i.args));
    for (const pkg of ['ffmpeg', 'tini']) assert.ok(installs.some((w) => w.includes(pkg)), `the runtime stage does not apt-get install ${pkg}`);
  });

  it('takes node_modules from a stage that installs production dependencies only', () => {
    const copy = finalStage.find((i) => i.op === 'COPY' && /--from=/.test(i.args) && /node_modules/.test(i.args));
    assert.ok(copy, 'node_modules should come from the dependencies stage');
    const from = /--from=(\S+)/.exec(copy.args)?.[1];
    const stage = stages.find((s) => new RegExp(`\\bAS\\s+${from}$`, 'i').test(s[0]?.args ?? ''));
    assert.ok(stage, `no stage named ${from}`);
    assert.ok(stage.some((i) => i.op === 'RUN' && /npm ci\b/.test(i.args) && /--omit=dev/.test(i.args)), `stage ${from} should run npm ci --omit=dev`);
  });

  it('copies every folder the server loads at run time', () => {
    const copies = copiesIntoImage();
    const folders = new Set([...runtime.paths].map((p) => p.split('/')[0] as string).filter((top) => statSync(join(ROOT, top)).isDirectory()));
    for (const expected of ['config', 'server', 'lti', 'recordings', 'widget']) assert.ok(folders.has(expected), `the import walk did not reach ${expected}/: is the walk broken?`);
    for (const folder of folders) {
      assert.ok(inImage(copies, folder), `the server loads ${folder}/ at run time but the Dockerfile does not COPY it to ${posix.join(workdir, folder)}`);
    }
    for (const path of runtime.paths) assert.ok(inImage(copies, path), `${path} is loaded at run time but not in the image`);
    assert.ok(inImage(copies, 'package.json'), 'package.json ("type": "module") must be in the image');
    // esbuild reads the widget's tsconfig.json and what it extends.
    for (const c of copies.filter((c) => c.isDir)) {
      const tsconfig = join(ROOT, c.source, 'tsconfig.json');
      if (!existsSync(tsconfig)) continue;
      const base = /"extends"\s*:\s*"([^"]+)"/.exec(readFileSync(tsconfig, 'utf8'))?.[1];
      if (base?.startsWith('.')) {
        const path = relative(ROOT, resolve(dirname(tsconfig), base));
        assert.ok(inImage(copies, path), `${c.source}/tsconfig.json extends ${path}, which the Dockerfile does not copy`);
      }
    }
  });

  it('has every package imported at run time among the production dependencies', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    for (const expected of ['express', 'esbuild', 'lit', 'hls.js']) assert.ok(runtime.packages.has(expected), `the import walk did not find ${expected}: is the walk broken?`);
    const missing = [...runtime.packages].filter(([name]) => pkg.dependencies?.[name] === undefined).map(([name, from]) => `${name} (imported by ${from}${pkg.devDependencies?.[name] ? ', only a devDependency' : ''})`);
    assert.deepEqual(missing, [], 'npm ci --omit=dev would leave these out of the image');
  });

  it('has a .dockerignore that leaves out local state and secrets, and nothing the image needs', () => {
    for (const path of ['node_modules', 'node_modules/x/index.js', 'data', 'data/pglite/base', '.git', '.git/HEAD', '.env']) {
      assert.ok(ignored(path), `.dockerignore should exclude ${path}`);
    }
    for (const c of copiesIntoImage()) {
      for (const path of c.isDir ? filesUnder(c.source) : [c.source]) assert.ok(!ignored(path), `.dockerignore excludes ${path}, which the Dockerfile copies`);
    }
    for (const path of ['package-lock.json']) assert.ok(!ignored(path), `.dockerignore excludes ${path}, which npm ci needs`);
  });
});
