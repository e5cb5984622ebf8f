#!/usr/bin/env bash
# The serving figures of the README's "Performance" section, measured side by side in one run:
# the single-stream ratio to the bare ONNX Runtime GenAI loop, then throughput and latency at concurrency 1, 2, 4, 8.
#   bench/serving-figures.sh [worker flags…]     e.g. bench/serving-figures.sh --intra-op-threads 1
set -euo pipefail
cd "$(dirname "$0")/.."

model="${MODEL_DIR:-$(mktemp -d)/small}"
port="${PORT:-8765}"
results="${RESULTS_DIR:-bench/results}"
mkdir -p "$results"

dotnet build -c Release Worker -v q -nologo >/dev/null
dotnet build -c Release bench -v q -nologo >/dev/null
[[ -f "$model/genai_config.json" ]] || dotnet Worker/bin/Release/net10.0/Worker.dll build-model --out "$model" --size small

dotnet Worker/bin/Release/net10.0/Worker.dll --model "$model" --served-model-name small --urls "http://127.0.0.1:$port" "$@" >"$results/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done

bench=bench/bin/Release/net10.0/vellum-bench
$bench overhead --model-dir "$model" --base-url "http://127.0.0.1:$port/v1" --model small --output-len 256 --rounds 9
for concurrency in 1 2 4 8; do
  $bench serve --base-url "http://127.0.0.1:$port/v1" --model small --num-prompts $((concurrency * 6)) \
    --max-concurrency "$concurrency" --input-words 32 --output-len 128 --result-file "$results/serve-c$concurrency.json"
done
