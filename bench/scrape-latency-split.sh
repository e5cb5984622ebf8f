#!/usr/bin/env bash
# Where a scrape's latency goes while 8 streams decode (issue 19, point 5): the client's view (the poller's p50/p99,
# 20 filtered polls a second, as in bench/exposition-figures.sh) against the worker's own (ASP.NET Core's hosting log,
# "Request finished … in X ms": from the request's start in the server to its end). The difference is the time a
# request waits for a CPU on its way in and out: on a machine whose cores the streams keep busy, the same for /alive.
#   MODEL_DIR=/tmp/vellum-bench/small ROUNDS=3 bash bench/scrape-latency-split.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
log="$(mktemp)"
# Only the hosting diagnostics logger at Information: one line per request, nothing else.
(cd Worker/bin/Release/net10.0 && exec dotnet Worker.dll --model "$model" --served-model-name small --urls http://127.0.0.1:8797 \
  --Logging:LogLevel:Default Warning --Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics Information >"$log" 2>&1) &
worker=$!
trap 'kill $worker 2>/dev/null || true; rm -f "$log"' EXIT
wait_healthy 8797
filtered="http://127.0.0.1:8797/metrics?name%5B%5D=vllm%3Anum_requests_waiting&name%5B%5D=vllm%3Anum_requests_running&name%5B%5D=vllm%3Akv_cache_usage_perc"
serve() { $bench serve --base-url "http://127.0.0.1:8797/v1" --model small --num-prompts 48 --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)" "$@"; }
serve --num-warmups 8 >/dev/null
# p50 and p99 (nearest rank) of the server's times for requests to PATH since the log was cut.
server_side() {
  grep -a "Request finished" "$log" | grep -a "8797$1" | sed -E 's/.* ([0-9.]+)ms$/\1/' | sort -g |
    awk '{v[NR]=$1} END {if (NR == 0) {print "no lines"; exit} p=int(NR*0.99+0.999); if (p > NR) p=NR; printf "n=%d p50 %.2f ms, p99 %.2f ms, max %.2f ms", NR, v[int(NR*0.5+0.999)], v[p], v[NR]}'
}
for round in $(seq 1 "${ROUNDS:-3}"); do
  echo "round $round (idle CPU $(idle_cpu)%):"
  for target in "$filtered" "http://127.0.0.1:8797/alive"; do
    : >"$log"
    path=$([[ "$target" == *alive ]] && echo "/alive" || echo "/metrics")
    client=$(serve --scrape-url "$target" --scrape-rate 20 | grep scrapes)
    echo "  $path client: ${client#*latency }; server: $(server_side "$path")"
  done
done
