#!/usr/bin/env bash
# Runs the local runtime benchmark against a throwaway Redis (the same one tools/test.sh starts).
# BENCH_SECONDS sets the length of each scenario (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/servers.sh
trap stop_servers EXIT
start_servers
dotnet run -c Release --project tools/AgenticFlow.Benchmarks
