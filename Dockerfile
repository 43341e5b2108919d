# hypha-accel: one image for both roles (`hypha-accel edge ...` / `hypha-accel gateway ...`).
# First working version (issue 2); not built on the development machine (no container engine there).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
# zstd-napi compiles its bundled zstd (allowScripts in package.json); the build stage has the toolchain.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/* \
 && npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
USER node
ENTRYPOINT ["node", "/app/bin/hypha-accel.js"]
CMD ["--help"]
