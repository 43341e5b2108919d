# syntax=docker/dockerfile:1
# hypha-accel: one image for both roles (`edge ...` / `gateway ...` are the arguments). Multi-stage: the build
# stage compiles TypeScript and keeps production dependencies only (all prebuilt: no C++ toolchain); the
# runtime stage is the Node 24 slim base, tini as PID 1, a numeric non-root user, a HEALTHCHECK on the admin port.
# Build: podman build --format docker --network host -t hypha-accel:0.1.0 .   (CI: scripts/image-test.sh)
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# tini (static) is copied into the runtime stage: no package manager layer there.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends tini >/dev/null
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies in their own layer (cached until the lockfile changes); --ignore-scripts skips the root
# `prepare` (no sources yet); the native dependencies load prebuilt binaries and need no install script.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

FROM ${NODE_IMAGE}
# tini as PID 1 reaps zombies and forwards SIGTERM to node, which then drains (--drain-timeout-ms).
COPY --from=build /usr/bin/tini-static /usr/bin/tini
WORKDIR /app
ENV NODE_ENV=production \
    HYPHA_ACCEL_ADMIN_LISTEN=0.0.0.0:9100
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY deploy/image/healthcheck.mjs ./healthcheck.mjs
# Numeric, so Kubernetes can check runAsNonRoot; no home, no shell needed. The root filesystem may be
# read-only: the only writes are shared-memory segments under /dev/shm (or --shm-dir).
USER 10001:10001
# 9527: edge (what clients use); 9600: gateway (links and plain hypha traffic); 9100: admin.
EXPOSE 9527 9600 9100
# /ready: the edge is ready once a link is up, the gateway once hypha answers; neither while draining. Follows HYPHA_ACCEL_ADMIN_LISTEN
# (set it, not --admin-listen, when you move the admin port). Honoured with --format docker; Kubernetes
# ignores it and uses the chart's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# --initial-old-space-size, --max-semi-space-size: see bin/hypha-accel.js (old-generation floor, small young
# generation; docs/design.md "Where a megabyte's CPU goes").
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--initial-old-space-size=160", "--max-semi-space-size=4", "/app/bin/hypha-accel.js"]
CMD ["--help"]
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="hypha-accel" \
      org.opencontainers.image.description="Transparent accelerating sidecar proxies (edge + gateway) for hypha RPC traffic" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}" \
      org.opencontainers.image.documentation="docs/deploy.md"
