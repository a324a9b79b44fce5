# Ferry in a container. Build stage: `npm ci` compiles the native modules (better-sqlite3, ssh2's crypto binding and
# the native/confine addon, which need python3, make and g++), applies patches/ and compiles src/ to dist/ (its
# `prepare` script); the dev dependencies are then pruned. Runtime stage: the compiled entry, `node bin/ferry.js
# serve`, as the unprivileged user `ferry`, data in the volume /var/lib/ferry, logs as JSON on stderr
# (`docker logs`); no sources, compilers or dev dependencies. Never built on the project's build machines (no
# Docker daemon, no registry access there): see docs/OPERATIONS.md.
#
#   docker build -t ferry .
#   docker run -d --name ferry -p 2222:2222 -v ferry-data:/var/lib/ferry ferry
#   docker logs ferry                       # host key fingerprints and the admin one-time password
#   docker exec ferry node bin/ferry.js users list

FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ferry
# node-gyp compiles against the image's own Node headers (/usr/local/include/node) instead of downloading them.
ENV npm_config_nodedir=/usr/local
# Everything `npm ci` runs on is copied first: its install scripts build the native modules, its postinstall
# applies patches/, and its prepare script (`npm run build`, tsc) compiles src/ with the tsconfig files and
# bundles kysely (scripts/bundle-kysely.mjs), then the compiled modules into dist/bundle/ (scripts/bundle-app.mjs).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/bundle-kysely.mjs scripts/bundle-app.mjs ./scripts/
COPY patches ./patches
COPY native ./native
COPY bin ./bin
COPY src ./src
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force
# Fail the build here, not at the first start, if the compiled entry or the confinement addon is missing.
RUN test -f dist/bundle/main.js \
  && test -f dist/vendor/kysely.cjs \
  && test -f native/confine/build/Release/confine.node \
  && test -f node_modules/better-sqlite3/build/Release/better_sqlite3.node \
  && node bin/ferry.js --version

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
  FERRY_DATA_DIR=/var/lib/ferry \
  FERRY_LISTEN=0.0.0.0 \
  FERRY_SFTP_PORT=2222
RUN groupadd --system ferry \
  && useradd --system --gid ferry --home-dir /var/lib/ferry --shell /usr/sbin/nologin ferry \
  && install -d -o ferry -g ferry -m 0700 /var/lib/ferry
WORKDIR /opt/ferry
# What runs: the compiled dist/, the production node_modules (with their built addons), the confinement addon
# and package.json (the version). Without src/, bin/ferry.js runs dist/ without comparing it to sources.
COPY --from=build /opt/ferry/package.json ./package.json
COPY --from=build /opt/ferry/bin ./bin
COPY --from=build /opt/ferry/dist ./dist
COPY --from=build /opt/ferry/node_modules ./node_modules
COPY --from=build /opt/ferry/native/confine/build/Release/confine.node ./native/confine/build/Release/confine.node
COPY contrib/healthcheck.mjs ./contrib/healthcheck.mjs
COPY web-assets ./web-assets
COPY README.md LICENSE CHANGELOG.md ./
USER ferry
VOLUME ["/var/lib/ferry"]
EXPOSE 2222
# Healthy when the SFTP port answers with an SSH-2.0 banner (no login, nothing the defender scores).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "/opt/ferry/contrib/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--initial-old-space-size=256", "--max-semi-space-size=4", "--expose-gc", "/opt/ferry/bin/ferry.js"]
CMD ["serve"]
