#!/usr/bin/env bash
# Runs the local runtime benchmark against a throwaway Redis (the same one tools/test.sh starts).
# "bash tools/bench.sh messaging" runs the message bus benchmark (gateway, service, Redis baseline) instead;
# "bash tools/bench.sh providers" the provider gateway overhead over a fake provider;
# "bash tools/bench.sh coordination" task submit->assigned with 100 agents and a 10-agent consensus round (gateway,
# agents, messaging, coordination) beside in-process baselines;
# "bash tools/bench.sh mcp" an MCP tool call (find_agents) through the gateway's /mcp beside the same REST call, ratio printed;
# "bash tools/bench.sh agents" agent get and state update (the agents service's actors) via the gateway beside an in-process baseline;
# "bash tools/bench.sh workflows" a 3-step run (invoke steps) of the workflows service, 1 and 100 in flight, beside the
# same calls in-process;
# "bash tools/bench.sh actors" actor calls and a 3-activity workflow through the runtime beside in-process baselines.
# "bash tools/bench.sh memory" semantic recall at 10k memories (BENCH_MEMORY_SIZES=10000,100000 adds 100k): the HNSW
# index beside exact search (latency, recall@10), the memory service's query and write->searchable latency.
# "bash tools/bench.sh monitoring" span and metric point intake (spans/s, points/s) beside in-process parse-and-store,
# and a gateway call with telemetry export on beside the same call with none, and a metrics query over 80,000 points
# with groupBy (40 series in 20 groups) beside the same query without grouping, ratio printed.
# "bash tools/bench.sh neural" single-row inference through the gateway and straight to the neural service at 100 and
# 1,000 calls/s and batched throughput, beside the same model's in-process PredictionEngine.
# BENCH_SECONDS sets the length of each scenario (default 5).
# BENCH_PROFILE=embedded runs on the embedded default of tools/run.sh (SQLite state, in-memory pub/sub) instead of Redis.
# BENCH_WARMUP_SECONDS (default 20) of untimed load first; BENCH_SLOW_MS=N prints each timed operation slower than N ms
# with its start on the monotonic clock (to line up with perf). Messaging only: BENCH_PATH=gateway|direct and
# BENCH_LOAD=200|1000|saturated|1000-batch-acks|saturated-batch-acks|batched|1000-batched run that path or scenario alone (a
# steady load to profile; BENCH_REPEAT=N runs it N times), BENCH_WAIT the consumers' long-poll seconds, BENCH_DESIGNS=0
# leaves out the mailbox designs side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/servers.sh
trap stop_servers EXIT
start_servers
dotnet build AgenticFlow.sln -c Release -nologo -v quiet >/dev/null
dotnet tools/AgenticFlow.Benchmarks/bin/Release/net10.0/AgenticFlow.Benchmarks.dll "$@"
