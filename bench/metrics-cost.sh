#!/usr/bin/env bash
# The cost of metrics, side by side in one run on the small model: two workers, one with metrics and one with
# --disable-log-stats, served in alternating rounds at concurrency 8 while a router-like poller scrapes the
# full /metrics of the worker under test 20 times a second. Prints tokens/s per round, the ratio, and the
# scrape latency (p50/p99) of the full page while serving.
set -euo pipefail
cd "$(dirname "$0")/.."

model="${MODEL_DIR:-$(mktemp -d)/small}"
rounds="${ROUNDS:-5}"
dotnet build -c Release Worker -v q -nologo >/dev/null
dotnet build -c Release bench -v q -nologo >/dev/null
[[ -f "$model/genai_config.json" ]] || dotnet Worker/bin/Release/net10.0/Worker.dll build-model --out "$model" --size small

start_worker() { # port, extra flags…
  local port=$1; shift
  dotnet Worker/bin/Release/net10.0/Worker.dll --model "$model" --served-model-name small --urls "http://127.0.0.1:$port" "$@" >/dev/null 2>&1 &
  echo $!
}
with=$(start_worker 8771 "$@")
without=$(start_worker 8772 --disable-log-stats "$@")
trap 'kill $with $without 2>/dev/null || true' EXIT
for port in 8771 8772; do until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done; done

bench=bench/bin/Release/net10.0/vellum-bench
run() { # port → output tokens/s
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 \
    --scrape-url "http://127.0.0.1:$1/metrics" --scrape-rate 20 | tee "/tmp/vellum-metrics-cost-$1.log" | awk '/Output token throughput/ {print $NF}'
}
run 8771 >/dev/null; run 8772 >/dev/null   # warm-up: JIT and first allocations, not measured
for round in $(seq 1 "$rounds"); do
  a=$(run 8771); grep scrapes /tmp/vellum-metrics-cost-8771.log
  b=$(run 8772)
  echo "round $round: with metrics $a tok/s, --disable-log-stats $b tok/s, ratio $(echo "scale=3; $a / $b" | bc)"
done
