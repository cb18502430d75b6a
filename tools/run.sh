#!/usr/bin/env bash
# Runs the whole platform on this machine: builds it, then starts every app of dapr.yaml with a sidecar of
# the local runtime (embedded defaults: SQLite state, in-memory pub/sub, local-file secrets). Ctrl+C stops it.
# Pass another run file as the first argument (for example a copy using components/redis-postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
run_file=${1:-dapr.yaml}
# The memory service's vector index (USearch's native library) links GNU OpenMP's runtime (libgomp1).
if ! dpkg -s libgomp1 >/dev/null 2>&1; then
  echo "run: installing libgomp1 from Debian packages"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends libgomp1 >/dev/null
fi
dotnet build AgenticFlow.sln -c Release -nologo -v quiet
exec dotnet tools/AgenticFlow.LocalRuntime/bin/Release/net10.0/agenticflow-runtime.dll run -f "$run_file"
