# Ferry in a container. Build stage: `npm ci` compiles the native modules (better-sqlite3, ssh2's crypto binding and
# the native/confine addon, which need python3, make and g++). Runtime stage: `node bin/ferry.js serve` as the
# unprivileged user `ferry`, data in the volume /var/lib/ferry, logs as JSON on stderr (`docker logs`).
# Not built on the project's build machines (no registry access there): see docs/OPERATIONS.md.
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
# What `npm ci` needs (lock, dependency patches, the addon's sources), before the rest, for layer caching.
COPY package.json package-lock.json ./
COPY patches ./patches
COPY native ./native
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY contrib/healthcheck.mjs ./contrib/healthcheck.mjs
COPY tsconfig.json README.md LICENSE CHANGELOG.md ./

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
  FERRY_DATA_DIR=/var/lib/ferry \
  FERRY_LISTEN=0.0.0.0 \
  FERRY_SFTP_PORT=2222
RUN groupadd --system ferry \
  && useradd --system --gid ferry --home-dir /var/lib/ferry --shell /usr/sbin/nologin ferry \
  && install -d -o ferry -g ferry -m 0700 /var/lib/ferry
WORKDIR /opt/ferry
COPY --from=build /opt/ferry /opt/ferry
USER ferry
VOLUME ["/var/lib/ferry"]
EXPOSE 2222
# Healthy when the SFTP port answers with an SSH-2.0 banner (no login, nothing the defender scores).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "/opt/ferry/contrib/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/ferry/bin/ferry.js"]
CMD ["serve"]
