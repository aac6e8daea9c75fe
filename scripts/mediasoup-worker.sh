#!/usr/bin/env bash
# mediasoup's worker for machines that cannot download it (ours: no GitHub): the shared build
# (../shared/mediasoup-worker/build.sh, Debian packages only, cached) plus one fix of ours,
# mediasoup-dtls-bio.patch beside this file. Same arguments as build.sh:
#
#   export MEDIASOUP_WORKER_BIN=$(scripts/mediasoup-worker.sh --path)   # where it will be; builds nothing
#   npm ci
#   scripts/mediasoup-worker.sh node_modules/mediasoup                 # builds it once (3-5 min on 2 cores)
#
# The fix: mediasoup 3.27 sends each DTLS record from a BIO callback that runs *before* OpenSSL
# writes the record, and clears the BIO there. Against Debian's OpenSSL 3.0.19 (mediasoup bundles
# 3.0.8) the worker then crashes at the first DTLS flight (SIGSEGV in do_dtls1_write, a NULL
# write buffer), with a browser and with werift alike. The patch sends each record from the
# callback that runs once OpenSSL has written it. When the shared patch carries the fix itself,
# it is used as it is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=$here/../../shared/mediasoup-worker
[ -x "$shared/build.sh" ] || { echo "mediasoup-worker.sh: no $shared/build.sh (the shared tools beside this checkout)" >&2; exit 2; }
patch=$(ls "$shared"/mediasoup-*-debian12.patch)
stage=${TMPDIR:-/tmp}/live-classroom-mediasoup-worker
mkdir -p "$stage"
cp "$shared/build.sh" "$stage/build.sh"
cp "$patch" "$stage/$(basename "$patch")"
if ! grep -q 'BIO_CB_WRITE | BIO_CB_RETURN' "$patch"; then
  cat "$here/mediasoup-dtls-bio.patch" >> "$stage/$(basename "$patch")"
fi
exec "$stage/build.sh" "$@"
