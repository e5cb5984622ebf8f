#!/usr/bin/env bash
# The serving figures of the README's "Performance" section, measured side by side in one run: C streams through
# the worker API against the bare batched-runner loop at batch C (the practical limit), at concurrency 1, 2, 4, 8 and 16,
# (LEVELS="1 8" for fewer) rounds counterbalanced with fresh prompts each round; then throughput and latency at concurrency 1, 2, 4, 8.
#   ROUNDS=4 bench/serving-figures.sh [worker flags…]     e.g. bench/serving-figures.sh --intra-op-threads 1
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8765}"
rounds="${ROUNDS:-4}"
results="${RESULTS_DIR:-bench/results}"
mkdir -p "$results"

source bench/lib.sh
build_and_model
worker=$(start_worker "$port" "$@")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy "$port"

# Round r's prompts (--prompt-seed 1000 + r) are the same for both sides and new to both: no prefix cache helps the
# served side, as the bare loop has none. Both processes run server GC (the Web SDK's default; bench/Bench.csproj).
bare() { $bench generate --model-dir "$model" --num-prompts "$1" --output-len 256 --prompt-seed $((1000 + ${round:-0})); }
served() {
  $bench serve --base-url "http://127.0.0.1:$port/v1" --model small --num-prompts "$1" --max-concurrency "$1" --output-len 256 \
    --prompt-seed $((1000 + ${round:-0})) --num-warmups $((4 * $1)) | awk '/Output token throughput/ {print $NF, "tok/s through the API"}'
}
# Warm-up, so that the worker's JIT has settled (its prompts are round 0's; rounds start at 1); each served run also
# warms its own client first (--num-warmups), as the bare loop warms up before it times.
for _ in 1 2 3; do served 16 >/dev/null; done
for concurrency in ${LEVELS:-1 2 4 8 16}; do
  echo "## c=$concurrency: $concurrency streams through the API vs the bare loop at batch $concurrency (output tokens/s)"
  compare "$rounds" "bare-loop=bare $concurrency" "served=served $concurrency"
done
for concurrency in 1 2 4 8; do
  $bench serve --base-url "http://127.0.0.1:$port/v1" --model small --num-prompts $((concurrency * 6)) --prompt-seed "$(fresh_seed)" \
    --max-concurrency "$concurrency" --input-words 32 --output-len 128 --result-file "$results/serve-c$concurrency.json"
done
