#!/usr/bin/env bash
# The cost of metrics, side by side in one run on the small model: two workers, one with metrics and one with
# --disable-log-stats, served in alternating rounds at concurrency 8 while a router-like poller scrapes the
# full /metrics of the worker under test 20 times a second. Prints tokens/s per round, the ratio, and the
# scrape latency (p50/p99) of the full page while serving.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-5}"
source bench/lib.sh
build_and_model
with=$(start_worker 8771 "$@")
without=$(start_worker 8772 --disable-log-stats "$@")
trap 'kill $with $without 2>/dev/null || true' EXIT
wait_healthy 8771 8772

run() { # port → output tokens/s
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 \
    --scrape-url "http://127.0.0.1:$1/metrics" --scrape-rate 20 | tee "/tmp/vellum-metrics-cost-$1.log" | awk '/Output token throughput/ {print $NF}'
}
run 8771 >/dev/null; run 8772 >/dev/null   # warm-up: JIT and first allocations, not measured
total_a=0; total_b=0
for round in $(seq 1 "$rounds"); do
  a=$(run 8771); grep scrapes /tmp/vellum-metrics-cost-8771.log
  b=$(run 8772)
  total_a=$(echo "$total_a + $a" | bc); total_b=$(echo "$total_b + $b" | bc)
  echo "round $round: with metrics $a tok/s, --disable-log-stats $b tok/s, ratio $(echo "scale=3; $a / $b" | bc)"
done
echo "all rounds: ratio $(echo "scale=3; $total_a / $total_b" | bc)"
