#!/usr/bin/env bash
# Mutation check for the confinement attack suite: run today's attacks against the last Ferry that confined
# sessions by path checks (HomeJail + names) and require them to FAIL. A suite that passes there proves nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
# The last commit before kernel confinement (openat2 RESOLVE_IN_ROOT) replaced the path checks.
PATH_CHECKS_COMMIT=e27f50c
if ! git cat-file -e "${PATH_CHECKS_COMMIT}^{commit}" 2>/dev/null; then
  echo "confinement mutation: skipped, commit ${PATH_CHECKS_COMMIT} is not in this clone (shallow?)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "confinement mutation: skipped, the attack suite runs ferry serve as root"
  exit 0
fi
work=$(mktemp -d /tmp/ferry-mutation-XXXXXX)
# Whatever still runs from the old tree (a server a killed test left) goes with it.
cleanup() {
  pkill -KILL -f "$work/tree/" >/dev/null 2>&1 || true
  git worktree remove --force "$work/tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
git worktree add -q --detach "$work/tree" "$PATH_CHECKS_COMMIT"
ln -s "$PWD/node_modules" "$work/tree/node_modules"
cp test/confinement-attack.test.ts test/confinement-attack-partials.test.ts "$work/tree/test/"
cp test/helpers/raw-sftp.ts test/helpers/cli.ts test/helpers/confinement-lab.ts "$work/tree/test/helpers/"
# The raw client speaks through today's SFTP wire module; the old server code never imports it.
mkdir -p "$work/tree/src/sftp/wire" && cp src/sftp/wire/*.ts "$work/tree/src/sftp/wire/"
# Bounded: it takes ~30 s, but a CI run once hung here until CI's own limit (the old server's stop never ended).
# --test-force-exit ends a file whose tests finished but left a handle open; timeout ends everything else.
MUTATION_TIMEOUT_SECONDS=${MUTATION_TIMEOUT_SECONDS:-600}
set +e
(cd "$work/tree" && FERRY_ATTACK_RACE_SECONDS="${FERRY_ATTACK_RACE_SECONDS:-2}" \
  timeout --kill-after=20 "$MUTATION_TIMEOUT_SECONDS" node --import tsx --test --test-force-exit \
  test/confinement-attack.test.ts test/confinement-attack-partials.test.ts) >"$work/out.log" 2>&1
status=$?
set -e
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "confinement mutation: FAILED, the attack suite did not finish within ${MUTATION_TIMEOUT_SECONDS} s" >&2
  tail -40 "$work/out.log" >&2
  exit 1
fi
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$work/out.log" | tail -1)
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$work/out.log" | tail -1)
echo "confinement mutation: against path checks (${PATH_CHECKS_COMMIT}) the attack suite had ${failed:-?} failing, ${passed:-?} passing tests"
grep -E '^    not ok' "$work/out.log" | sed 's/^    /  caught: /' || true
# Every attack class must be caught, by a leak (a non-empty findings/leakedToClient/changedOutsideHomes
# list in the assertion diff), not by a setup failure: the four class suites each fail under path checks.
leaks=$(grep -cE '^ +\+ +(findings|leakedToClient|changedOutsideHomes): \[' "$work/out.log" || true)
echo "confinement mutation: ${leaks} assertion(s) reported leaks"
if [ "${failed:-0}" -lt 4 ] || [ "${leaks:-0}" -lt 4 ]; then
  echo "confinement mutation: FAILED, the attack suite does not detect path-check confinement" >&2
  tail -40 "$work/out.log" >&2
  exit 1
fi
echo "confinement mutation: ok"
