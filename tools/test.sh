#!/usr/bin/env bash
# The test command: starts throwaway Redis and PostgreSQL on 127.0.0.1 (installing them when missing), installs
# node and npm when missing and the JavaScript conformance suite's packages (npm ci), runs every test project,
# stops the servers, and prints one closing line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/servers.sh
trap stop_servers EXIT
start_servers

# The JavaScript SDK conformance suite (tests/conformance-js) runs node with the packages its lock file pins.
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing ${missing[*]} from Debian packages"
  _as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive _as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The dashboard's browser tests drive Debian's Chromium with playwright-core (no browser download).
command -v chromium >/dev/null || { _as_root apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive _as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
if [ ! -f tests/dashboard-js/node_modules/.package-lock.json ] || [ tests/dashboard-js/package-lock.json -nt tests/dashboard-js/node_modules/.package-lock.json ]; then
  (cd tests/dashboard-js && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f tests/conformance-js/node_modules/.package-lock.json ] || [ tests/conformance-js/package-lock.json -nt tests/conformance-js/node_modules/.package-lock.json ]; then
  (cd tests/conformance-js && npm ci --no-audit --no-fund --loglevel=error)
fi

results=$(mktemp -d /tmp/agenticflow-results.XXXXXX)
status=0
# A test that hangs is stopped after 10 minutes instead of eating CI's time; test projects run in parallel.
dotnet test AgenticFlow.sln -c Release --logger "trx" --results-directory "$results" --blame-hang-timeout 10m --blame-hang-dump-type none "$@" || status=$?

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${n:-0}))
done
rm -rf "$results"
echo "Tests: $passed passed, $failed failed, $skipped skipped"
[ "$passed" -gt 0 ] || { echo "no test ran" >&2; status=1; }
exit $status
