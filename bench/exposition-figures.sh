#!/usr/bin/env bash
# What /metrics costs the worker (issue 19, point 5), on the small model, every round printed:
#  1. worker CPU per scrape from /proc (all its threads), over one keep-alive connection: a router's filtered poll
#     (name[] for the three load gauges), the full page as text and as OpenMetrics; and Python's prometheus_client
#     rendering the same full page in the same run (ROUNDS rounds);
#  2. the full page's and the filtered poll's latency (p50/p99) polled 20 times a second while 8 streams decode;
#  3. what 20 filtered polls a second cost those streams' throughput: serving with and without the poller, in
#     counterbalanced rounds (bench/compare.sh), fresh prompts each run.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
source bench/lib.sh
build_and_model
worker=$(start_worker 8781 "$@")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy 8781
filtered="http://127.0.0.1:8781/metrics?name%5B%5D=vllm%3Anum_requests_waiting&name%5B%5D=vllm%3Anum_requests_running&name%5B%5D=vllm%3Akv_cache_usage_perc"
serve() { $bench serve --base-url "http://127.0.0.1:8781/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)" "$@"; }
serve --num-warmups 8 >/dev/null   # every histogram observed, every path jitted: the page as in production

echo "== 1. worker CPU per scrape (idle worker) =="
for round in $(seq 1 "$rounds"); do
  echo "round $round (idle CPU $(idle_cpu)%):"
  $bench exposition --base-url http://127.0.0.1:8781 --pid "$worker" --count "${COUNT:-2000}" --python /usr/bin/python3 | sed 's/^/  /'
done

echo "== 2. scrape latency while 8 streams decode, 20 polls a second =="
for round in $(seq 1 "$rounds"); do
  echo "round $round (idle CPU $(idle_cpu)%):"
  echo "  full page: $(serve --scrape-url http://127.0.0.1:8781/metrics --scrape-rate 20 | grep scrapes)"
  echo "  filtered:  $(serve --scrape-url "$filtered" --scrape-rate 20 | grep scrapes)"
done

echo "== 3. throughput of 8 streams, with and without 20 filtered polls a second =="
tps() { serve "$@" | awk '/Output token throughput/ {print $NF}'; }
compare "$(( rounds * 2 ))" "no-poller=tps" "20-filtered-polls=tps --scrape-url '$filtered' --scrape-rate 20"
