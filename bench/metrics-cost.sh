#!/usr/bin/env bash
# The cost of metrics, side by side in one run on the small model: two workers, one with metrics and one with
# --disable-log-stats, served in counterbalanced rounds (bench/compare.sh) at concurrency 8, fresh prompts each run, while a router-like poller scrapes the
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

run() { # port → output tokens/s, and the full page's scrape latency while serving
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)" \
    --scrape-url "http://127.0.0.1:$1/metrics" --scrape-rate 20 | awk '/Output token throughput/ {t=$NF} /scrapes/ {s=$0} END {print t, s}'
}
run 8771 >/dev/null; run 8772 >/dev/null   # warm-up: JIT and first allocations, not measured
compare "$rounds" "metrics=run 8771" "disable-log-stats=run 8772"
