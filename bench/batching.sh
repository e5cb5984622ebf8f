#!/usr/bin/env bash
# Continuous batching, side by side in one run on the small model: the per-sequence engine of the commit before
# batching (one ONNX Runtime GenAI generator per sequence, stepped in parallel) against this tree's batched engine,
# at concurrency 1, 2, 4, 8 and 16, rounds alternated. Prints output tokens/s per round and the ratio per concurrency.
#   BEFORE=<commit> ROUNDS=3 bench/batching.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
before="${BEFORE:-4b21523}"
source bench/lib.sh
build_and_model
old_tree="$(mktemp -d)/before"
git worktree add -q --detach "$old_tree" "$before"
dotnet build -c Release "$old_tree/Worker" -v q -nologo >/dev/null
old=$(cd "$old_tree" && { dotnet Worker/bin/Release/net10.0/Worker.dll --model "$model" --served-model-name small --urls http://127.0.0.1:8791 >/dev/null 2>&1 & echo $!; })
new=$(start_worker 8792)
trap 'kill $old $new 2>/dev/null || true; git worktree remove --force "$old_tree"' EXIT
wait_healthy 8791 8792

run() { # port concurrency → output tokens/s
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts $(( $2 * 4 )) --max-concurrency "$2" \
    --input-words 32 --output-len 96 | awk '/Output token throughput/ {print $NF}'
}
run 8791 4 >/dev/null; run 8792 4 >/dev/null   # warm-up
echo "| concurrency | before (tok/s) | batched (tok/s) | ratio | idle CPU |"
echo "|---|---|---|---|---|"
for concurrency in 1 2 4 8 16; do
  total_a=0; total_b=0
  for round in $(seq 1 "$rounds"); do
    idle=$(vmstat 1 2 | tail -1 | awk '{print $15}')
    a=$(run 8791 "$concurrency"); b=$(run 8792 "$concurrency")
    total_a=$(echo "$total_a + $a" | bc); total_b=$(echo "$total_b + $b" | bc)
    echo "round $round at $concurrency: before $a, batched $b (idle CPU before the round ${idle}%)" >&2
  done
  echo "| $concurrency | $(echo "scale=1; $total_a / $rounds" | bc) | $(echo "scale=1; $total_b / $rounds" | bc) | $(echo "scale=2; $total_b / $total_a" | bc)× | ${idle}% |"
done
