// Runs after `npm install`/`npm ci` (the project's own postinstall): gets mediasoup's C++ worker
// without ever failing the install. mediasoup's own install script is not allowed to run
// (package.json allowScripts), because where the worker can be neither downloaded nor built it
// fails the whole install; the tool must still install and run there, on its werift engine.
//
// - MEDIASOUP_WORKER_BIN set (a worker built elsewhere, e.g. ../shared/mediasoup-worker/build.sh):
//   nothing to do; mediasoup runs that binary.
// - A worker already in node_modules/mediasoup: nothing to do.
// - Otherwise mediasoup's own script is run (prebuilt download from GitHub, else a local build),
//   and if it fails the install goes on and says what that means.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mediasoup = join(root, 'node_modules', 'mediasoup');
const builtIn = join(mediasoup, 'worker', 'out', 'Release', 'mediasoup-worker');
const given = process.env.MEDIASOUP_WORKER_BIN;
const say = (text: string) => console.log(`live-classroom: ${text}`);

if (given) {
  say(existsSync(given) ? `mediasoup will run the worker at ${given} (MEDIASOUP_WORKER_BIN).` : `MEDIASOUP_WORKER_BIN is ${given}, which does not exist yet: build it before starting (see README, "Media engines").`);
} else if (!existsSync(join(mediasoup, 'package.json'))) {
  say('mediasoup is not installed: the tool will use its werift engine.');
} else if (existsSync(builtIn)) {
  say('mediasoup\'s worker is in place.');
} else {
  say('fetching mediasoup\'s worker (a prebuilt binary from GitHub, or a local build)…');
  const run = spawnSync(process.execPath, ['npm-scripts.mjs', 'postinstall'], { cwd: mediasoup, stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000 });
  if (run.status === 0 && existsSync(builtIn)) say('mediasoup\'s worker is in place.');
  else {
    say('mediasoup\'s worker could be neither downloaded nor built on this machine (see above).');
    say('The install goes on: with MEDIA_ENGINE=auto (the default) the tool runs its werift engine.');
    say('For mediasoup, set MEDIASOUP_WORKER_BIN to a worker binary and install again (README, "Media engines").');
  }
}
