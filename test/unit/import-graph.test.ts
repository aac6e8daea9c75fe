// The project's shape, read from its imports: no file imports one that imports it back, no folder
// imports a folder that imports it back (server/'s own files are the composition root, which may
// import anything and which nothing imports), and each library stays in its folder (werift and
// mediasoup in server/media, ltijs in lti/, FFmpeg's processes in recordings/, process.env in
// config/). Every client event of the protocol has its one handler.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLIENT_EVENTS } from '../../server/protocol/index.ts';
import { handlers } from '../../server/realtime/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The shipped code (tests and benchmarks may reach anywhere). */
const SOURCES = ['config', 'lti', 'recordings', 'server', 'widget'];
/** server/'s own files: they build everything and nothing imports them. */
const COMPOSITION_ROOT = new Set(['server/main.ts', 'server/service.ts', 'server/runtime.ts']);

interface Source {
  file: string;
  text: string;
  /** Relative imports, as files under ROOT. */
  local: string[];
  /** Package imports, by package name. */
  packages: string[];
}

function sources(): Source[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  for (const dir of SOURCES) walk(join(ROOT, dir));
  return files.map((path) => {
    const text = readFileSync(path, 'utf8');
    const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
    return {
      file: relative(ROOT, path),
      text,
      local: specifiers.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(dirname(path), s))),
      packages: specifiers.filter((s) => !s.startsWith('.')).map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!)),
    };
  });
}

/** The folder a file belongs to: server/<part>, else its top-level folder; server/'s own files are the composition root. */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'server') return parts.length > 2 ? `server/${parts[1]}` : 'server (composition root)';
  return parts[0]!;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (node: string) => {
    path.push(node);
    onPath.add(node);
    for (const next of graph.get(node) ?? []) {
      if (onPath.has(next)) found.push([...path.slice(path.indexOf(next)), next]);
      else if (!done.has(next)) visit(next);
    }
    path.pop();
    onPath.delete(node);
    done.add(node);
  };
  for (const node of graph.keys()) if (!done.has(node)) visit(node);
  return found;
}

describe('the import graph', () => {
  const all = sources();

  it('reads the code it checks', () => {
    assert.ok(all.length > 100, `${all.length} files`);
    const service = all.find((s) => s.file === 'server/service.ts');
    assert.ok(service && service.local.includes('server/runtime.ts'), 'imports are read');
  });

  it('has no file that imports one that imports it back', () => {
    const graph = new Map(all.map((s) => [s.file, new Set(s.local)]));
    assert.deepEqual(cycles(graph).map((c) => c.join(' -> ')), []);
  });

  it('has no folder that imports one that imports it back, and nothing imports the composition root', () => {
    const graph = new Map<string, Set<string>>();
    for (const source of all) {
      const from = folderOf(source.file);
      for (const target of source.local) {
        const to = folderOf(target);
        if (to === from) continue;
        if (!graph.has(from)) graph.set(from, new Set());
        graph.get(from)!.add(to);
      }
    }
    assert.deepEqual(cycles(graph).map((c) => c.join(' -> ')), []);
    const intoRoot = all.filter((s) => s.file !== 'server/main.ts' && folderOf(s.file) !== 'server (composition root)' && s.local.some((t) => COMPOSITION_ROOT.has(t)));
    assert.deepEqual(intoRoot.map((s) => s.file), []);
    // The widget is the browser's: it shares only the protocol with the server.
    const widgetReaches = new Set([...(graph.get('widget') ?? [])]);
    assert.deepEqual([...widgetReaches], ['server/protocol']);
  });

  it('keeps each library in its folder', () => {
    const rules: Array<{ what: string; where: string[]; uses: (s: Source) => boolean }> = [
      { what: 'werift', where: ['server/media/'], uses: (s) => s.packages.includes('werift') },
      { what: 'mediasoup', where: ['server/media/'], uses: (s) => s.packages.includes('mediasoup') },
      { what: 'ltijs', where: ['lti/'], uses: (s) => s.packages.some((p) => p === 'ltijs' || p.startsWith('ltijs')) },
      { what: 'child processes (FFmpeg)', where: ['recordings/'], uses: (s) => s.packages.includes('node:child_process') || s.packages.includes('child_process') },
      { what: 'process.env', where: ['config/'], uses: (s) => /\bprocess\.env\b/.test(s.text) },
    ];
    for (const rule of rules) {
      const outside = all.filter((s) => rule.uses(s) && !rule.where.some((w) => s.file.startsWith(w)));
      assert.deepEqual(outside.map((s) => s.file), [], `${rule.what} outside ${rule.where.join(', ')}`);
    }
    // The rules see what they look for (a rule that matches nothing would pass whatever happened).
    assert.ok(all.some((s) => s.packages.includes('werift')), 'werift is imported somewhere');
    assert.ok(all.some((s) => s.packages.includes('ltijs')), 'ltijs is imported somewhere');
    assert.ok(all.some((s) => /\bprocess\.env\b/.test(s.text)), 'process.env is read somewhere');
  });

  it('answers every client event of the protocol with exactly one handler', () => {
    assert.deepEqual(Object.keys(handlers).sort(), [...CLIENT_EVENTS].sort());
  });
});
