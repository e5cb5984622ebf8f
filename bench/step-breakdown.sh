#!/usr/bin/env bash
# Where a decode step's time goes at batch B (8 unless given), the README's "Per-step breakdown":
#   1. in one process, the bare batched loop against the engine driven directly (vellum-bench step-profile): the time
#      inside ONNX Runtime's run, the rest (rows, binding, sampling; the engine's scheduling, updates and hand-off), GC;
#   2. through the API, CPU per step from /proc while B streams decode on a live worker: the forward pass's threads
#      (engine-loop and ONNX Runtime's "onnxruntime" pool) against the worker's others (Kestrel, SSE, detokenizing, the
#      publisher and metrics, JIT, GC), and the benchmark client's own CPU per step (what it takes from the server on
#      this machine's cores), from the difference between a long and a short run.
#   BATCH=8 ROUNDS=2 bench/step-breakdown.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
batch="${BATCH:-8}"
port="${PORT:-8766}"
build_and_model

echo "## in one process, no HTTP (ms per step)"
$bench step-profile --model-dir "$model" --batch "$batch" --rounds "${ROUNDS:-2}"

worker=$(start_worker "$port")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy "$port"
serve() { # OUTPUT_LEN SEED: B streams at once; prints the client's user+system CPU seconds
  /usr/bin/time -f "%U %S" -o /tmp/step-breakdown.$$ $bench serve --base-url "http://127.0.0.1:$port/v1" --model small --num-prompts "$batch" \
    --max-concurrency "$batch" --output-len "$1" --prompt-seed "$2" --num-warmups $((2 * batch)) >/dev/null
  awk '{print $1 + $2}' /tmp/step-breakdown.$$
}
# CPU ticks of the worker's threads, the forward pass's and the others'.
ticks() { for t in /proc/$worker/task/*; do echo "$(tr ' ' _ <"$t/comm") $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"; done |
  awk '$1 == "engine-loop" || $1 == "onnxruntime" {f += $2; next} {o += $2} END {print f, o}'; }
for _ in 1 2 3; do serve 256 $((RANDOM + 5000)) >/dev/null; done   # the worker's JIT settles
hz=$(getconf CLK_TCK)
steps() { curl -sf "http://127.0.0.1:$port/engine/stats" | grep -o '"steps":[0-9]*' | cut -d: -f2; }
for round in 1 2; do
  read -r f0 o0 < <(ticks); s0=$(steps); long=$(serve 512 $((7000 + round))); read -r f1 o1 < <(ticks); s1=$(steps)
  short=$(serve 128 $((8000 + round)))
  awk -v f=$((f1 - f0)) -v o=$((o1 - o0)) -v steps=$((s1 - s0)) -v hz="$hz" -v long="$long" -v short="$short" -v b="$batch" -v round="$round" 'BEGIN {
    printf "round %d, through the API at c=%d, CPU ms per step (%d steps): forward-pass threads %.3f, the worker'\''s other threads %.3f; the client %.3f\n",
      round, b, steps, f * 1000 / hz / steps, o * 1000 / hz / steps, (long - short) * 1000 / (512 - 128) }'
done
