#!/usr/bin/env bash
# Runs the local runtime benchmark against a throwaway Redis (the same one tools/test.sh starts).
# "bash tools/bench.sh messaging" runs the message bus benchmark (gateway, service, Redis baseline) instead;
# "bash tools/bench.sh providers" the provider gateway overhead over a fake provider;
# "bash tools/bench.sh coordination" task submit->assigned with 100 agents and a 10-agent consensus round (gateway,
# agents, messaging, coordination) beside in-process baselines;
# "bash tools/bench.sh agents" agent get and state update (the agents service's actors) via the gateway beside an in-process baseline;
# "bash tools/bench.sh actors" actor calls and a 3-activity workflow through the runtime beside in-process baselines.
# BENCH_SECONDS sets the length of each scenario (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/servers.sh
trap stop_servers EXIT
start_servers
dotnet build AgenticFlow.sln -c Release -nologo -v quiet >/dev/null
dotnet tools/AgenticFlow.Benchmarks/bin/Release/net10.0/AgenticFlow.Benchmarks.dll "$@"
