#!/bin/sh
# Runs after `npm install`/`npm ci` (the project's own postinstall): gets mediasoup's C++ worker
# without ever failing the install. mediasoup's own install script is not allowed to run
# (package.json allowScripts), because where the worker can be neither downloaded nor built it
# fails the whole install; the tool must still install and run there, on its werift engine.
#
# - MEDIASOUP_WORKER_BIN set (a worker built elsewhere, e.g. scripts/mediasoup-worker.sh):
#   nothing to do; mediasoup runs that binary.
# - A worker already in node_modules/mediasoup: nothing to do.
# - Otherwise mediasoup's own script runs (prebuilt download from GitHub, else a local build),
#   and if it fails the install goes on and says what that means.
cd "$(dirname "$0")/.." || exit 0
mediasoup=node_modules/mediasoup
built=$mediasoup/worker/out/Release/mediasoup-worker
say() { echo "live-classroom: $*"; }

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  if [ -e "$MEDIASOUP_WORKER_BIN" ]; then say "mediasoup will run the worker at $MEDIASOUP_WORKER_BIN (MEDIASOUP_WORKER_BIN)."
  else say "MEDIASOUP_WORKER_BIN is $MEDIASOUP_WORKER_BIN, which does not exist yet: build it before starting (README, \"Media engines\")."; fi
elif [ ! -f "$mediasoup/package.json" ]; then
  say "mediasoup is not installed: the tool will use its werift engine."
elif [ -x "$built" ]; then
  say "mediasoup's worker is in place."
else
  say "fetching mediasoup's worker (a prebuilt binary from GitHub, or a local build)..."
  # node: npm puts the project's node_modules/.bin (Node 24) first on the PATH of its scripts.
  if (cd "$mediasoup" && node npm-scripts.mjs postinstall) && [ -x "$built" ]; then
    say "mediasoup's worker is in place."
  else
    say "mediasoup's worker could be neither downloaded nor built on this machine (see above)."
    say "The install goes on: with MEDIA_ENGINE=auto (the default) the tool runs its werift engine."
    say "For mediasoup, set MEDIASOUP_WORKER_BIN to a worker binary and install again (README, \"Media engines\")."
  fi
fi
exit 0
