#!/usr/bin/env bash
# Runs the whole platform on this machine: builds it, then starts every app of dapr.yaml with a sidecar of
# the local runtime (embedded defaults: SQLite state, in-memory pub/sub, local-file secrets). Ctrl+C stops it.
# Pass another run file as the first argument (for example a copy using components/redis-postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
run_file=${1:-dapr.yaml}
dotnet build AgenticFlow.sln -c Release -nologo -v quiet
exec dotnet tools/AgenticFlow.LocalRuntime/bin/Release/net10.0/agenticflow-runtime.dll run -f "$run_file"
