// The Dockerfile cannot be built here (no Docker engine): it is checked against the code instead,
// what the server loads at run time and the packages it imports.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { read, ROOT } from '../helpers/deploy/files.ts';
import { copiesIntoImage, filesUnder, finalStage, globalArgs, ignored, inImage, runtime, stages, words, workdir } from '../helpers/deploy/image.ts';

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
