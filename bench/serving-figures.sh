#!/usr/bin/env bash
# The serving figures of the README's "Performance" section, measured side by side in one run:
# the single-stream ratio to the bare ONNX Runtime GenAI loop, then throughput and latency at concurrency 1, 2, 4, 8.
#   bench/serving-figures.sh [worker flags…]     e.g. bench/serving-figures.sh --intra-op-threads 1
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8765}"
results="${RESULTS_DIR:-bench/results}"
mkdir -p "$results"

source bench/lib.sh
build_and_model
worker=$(start_worker "$port" "$@")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy "$port"

$bench overhead --model-dir "$model" --base-url "http://127.0.0.1:$port/v1" --model small --output-len 256 --rounds 9
for concurrency in 1 2 4 8; do
  $bench serve --base-url "http://127.0.0.1:$port/v1" --model small --num-prompts $((concurrency * 6)) \
    --max-concurrency "$concurrency" --input-words 32 --output-len 128 --result-file "$results/serve-c$concurrency.json"
done
