#!/usr/bin/env bash
# Continuous batching, side by side in one run on the small model: the per-sequence engine of the commit before
# batching (one ONNX Runtime GenAI generator per sequence, stepped in parallel) against this tree's batched engine,
# at concurrency 1, 2, 4, 8 and 16, rounds counterbalanced (bench/compare.sh). Prints output tokens/s per round and the
# ratio of medians per concurrency.
#   BEFORE=<commit> ROUNDS=3 bench/batching.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
before="${BEFORE:-4b21523}"
source bench/lib.sh
build_and_model
before_and_after "$before" 8791 8792

run() { # port concurrency → output tokens/s; fresh prompts every run (--prompt-seed), so no run is served from a prefix cache
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts $(( $2 * 4 )) --max-concurrency "$2" \
    --input-words 32 --output-len 96 --prompt-seed "$(fresh_seed)" | awk '/Output token throughput/ {print $NF}'
}
run 8791 4 >/dev/null; run 8792 4 >/dev/null   # warm-up
for concurrency in 1 2 4 8 16; do
  echo "## concurrency $concurrency (output tokens/s)"
  compare "$rounds" "before=run 8791 $concurrency" "batched=run 8792 $concurrency"
done
