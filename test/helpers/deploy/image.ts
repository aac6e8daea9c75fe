// Reading the image for the configuration tests: the Dockerfile's stages and COPY instructions, what
// the server imports at run time (walked from its entry points), and .dockerignore.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, matchesGlob, posix, relative, resolve } from 'node:path';
import { read, ROOT } from './files.ts';

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
export function words(args: string): string[] {
  if (args.startsWith('[')) return (JSON.parse(args) as unknown[]).map(String);
  return args.split(/\s+/).filter((w) => w !== '');
}

export const dockerfile = parseDockerfile(read('Dockerfile'));
export const globalArgs = new Map<string, string>();
for (const ins of dockerfile) {
  if (ins.op === 'FROM') break;
  if (ins.op === 'ARG') {
    const [name = '', value = ''] = ins.args.split('=');
    globalArgs.set(name.trim(), value.trim());
  }
}
export const stages: Instruction[][] = [];
for (const ins of dockerfile) {
  if (ins.op === 'FROM') stages.push([]);
  stages.at(-1)?.push(ins);
}
export const finalStage = stages.at(-1) ?? [];
export const workdir = [...finalStage].reverse().find((i) => i.op === 'WORKDIR')?.args ?? '/';

interface Copy {
  /** Path in the build context. */
  source: string;
  /** Where it lands in the image: a folder's contents go into dest. */
  dest: string;
  isDir: boolean;
}

/** Where each COPY of the final stage puts each of its sources (from the build context only). */
export function copiesIntoImage(): Copy[] {
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
export function inImage(copies: Copy[], path: string): boolean {
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

export const runtime = runtimeGraph(['server/main.ts', 'lti/cli.ts']);

// ---------------------------------------------------------------------------------------------
// .dockerignore
// ---------------------------------------------------------------------------------------------

export const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const exception = l.startsWith('!');
    const pattern = posix.normalize((exception ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, ''));
    return { exception, pattern };
  });

/** Whether the build context leaves `path` out (Docker: the last matching pattern decides; a match on a parent folder counts). */
export function ignored(path: string): boolean {
  const ancestry: string[] = [];
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) ancestry.push(parts.slice(0, i).join('/'));
  let out = false;
  for (const { exception, pattern } of dockerignore) {
    if (ancestry.some((p) => matchesGlob(p, pattern))) out = !exception;
  }
  return out;
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}
