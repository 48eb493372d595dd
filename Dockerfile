# syntax=docker/dockerfile:1
# prescale: multi-stage build. The runtime image holds only dist/, production dependencies (with
# @tensorflow/tfjs-node and its libtensorflow), the dashboard's static files and what `prescale demo` reads
# (config/demo.yaml, data/demo, models/demo: about 4 MB); it runs as a non-root user and `serve` writes
# nothing outside mounted volumes, so `readOnlyRootFilesystem: true` works. (`demo` writes its audit log to
# /app/.prescale: with --read-only add `--tmpfs /app/.prescale`.)
#   docker build -t prescale .
#   docker run --read-only --tmpfs /tmp -v $PWD/config:/etc/prescale:ro -v prescale-models:/var/lib/prescale/models \
#     -p 8080:8080 -p 6443:6443 prescale serve --config /etc/prescale/config.yaml

ARG NODE_IMAGE=node:20-bookworm
ARG NODE_RUNTIME_IMAGE=node:20-bookworm-slim

# 1. Build: all dependencies (dev included) and tsc → dist/src/cli.js.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Optional dependencies (tfjs-node) are not needed to compile; skipping them keeps this stage fast.
RUN npm ci --omit=optional --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies, on the full image: tfjs-node's install script downloads libtensorflow
#    (the build network needs access to storage.googleapis.com) and may fall back to compiling with g++.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --include=optional \
 && node -e "require('@tensorflow/tfjs-node')" \
 && npm cache clean --force

# 3. Runtime.
FROM ${NODE_RUNTIME_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp \
    PRESCALE_LOG_LEVEL=info
WORKDIR /app
COPY --from=deps --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --chown=root:root package.json ./
# The dashboard's browser files are served from src/web/public (src/web/assets.ts looks there).
COPY --chown=root:root src/web/public ./src/web/public
# `prescale demo` finds config/demo.yaml relative to the package root, and the config names the NASA trace
# and the shipped model relative to itself (src/commands/serve-commands.ts demoConfigPath).
COPY --chown=root:root config/demo.yaml ./config/
COPY --chown=root:root data/demo ./data/demo
COPY --chown=root:root models/demo ./models/demo
# Mount points: config (read-only), trained models, serving certificates; /tmp is a tmpfs/emptyDir.
# /app/.prescale is where the demo writes (its config says ../.prescale): the user's, like the models volume.
RUN mkdir -p /etc/prescale /var/lib/prescale/models /var/run/prescale/serving-cert /app/.prescale \
 && chown 1000:1000 /var/lib/prescale/models /app/.prescale
# The node image's unprivileged user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 6443
VOLUME ["/var/lib/prescale/models"]
# /healthz on the plain-HTTP port says the process lives (Kubernetes uses its own probes: deploy/base).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve", "--config", "/etc/prescale/config.yaml"]
