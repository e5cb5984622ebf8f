#!/usr/bin/env bash
# The cost of exemplars, side by side in one run on the small model: two workers, with and without
# --enable-exemplars, served in counterbalanced rounds (bench/compare.sh) at concurrency 8, fresh prompts each run.
# Prints tokens/s per round and the ratio of medians.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-5}"
source bench/lib.sh
build_and_model
with=$(start_worker 8781 --enable-exemplars)
without=$(start_worker 8782)
trap 'kill $with $without 2>/dev/null || true' EXIT
wait_healthy 8781 8782

run() { # port → output tokens/s, with an OpenMetrics scrape every second, as Prometheus takes exemplars
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)" \
    --scrape-url "http://127.0.0.1:$1/metrics" --scrape-rate 1 --scrape-format openmetrics | awk '/Output token throughput/ {print $NF}'
}
run 8781 >/dev/null; run 8782 >/dev/null   # warm-up
compare "$rounds" "exemplars=run 8781" "no-exemplars=run 8782"
