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

# The neural service's artifact store in tests: s3rver (an S3-compatible server, from tests/s3-server's lock file) on a
# free loopback port; the tests read its address from AGENTICFLOW_TEST_S3 (credentials S3RVER/S3RVER).
if [ ! -f tests/s3-server/node_modules/.package-lock.json ] || [ tests/s3-server/package-lock.json -nt tests/s3-server/node_modules/.package-lock.json ]; then
  (cd tests/s3-server && npm ci --no-audit --no-fund --loglevel=error)
fi
s3_dir=$(mktemp -d /tmp/agenticflow-s3.XXXXXX)
stop_s3() { [ -n "${S3_PID:-}" ] && kill "$S3_PID" 2>/dev/null; rm -rf "$s3_dir"; S3_PID=; }
trap 'stop_s3; stop_servers' EXIT
for attempt in 1 2 3; do
  s3_port=$(_free_port)
  node tests/s3-server/node_modules/s3rver/bin/s3rver.js -d "$s3_dir" -a 127.0.0.1 -p "$s3_port" --silent &
  S3_PID=$!
  _wait_port "$s3_port" s3rver "$S3_PID" && break
  kill "$S3_PID" 2>/dev/null; S3_PID=
  [ "$attempt" = 3 ] && exit 1
done
export AGENTICFLOW_TEST_S3="127.0.0.1:$s3_port"

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
