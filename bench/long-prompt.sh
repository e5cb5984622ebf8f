#!/usr/bin/env bash
# Head-of-line blocking by a long prompt, side by side in one run on the small model: a worker with chunked prefill
# (the default step budget) and one with --no-enable-chunked-prefill. In each round, 4 streams decode on a worker
# and a ~1,800-token prompt arrives; the streams' largest inter-token gap is printed beside the prompt's unchunked
# prefill time (its time to first token on the idle unchunked worker), and the chunked worker's
# vllm:iteration_tokens_total buckets show the mixed steps.
#   bench/long-prompt.sh [flags for the chunked worker…]     e.g. bench/long-prompt.sh --max-num-batched-tokens 128
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
source bench/lib.sh
build_and_model
# No prefix caching: every round's prompt must be computed, not found.
chunked=$(start_worker 8801 --no-enable-prefix-caching "$@")
whole=$(start_worker 8802 --no-enable-prefix-caching --no-enable-chunked-prefill)
trap 'kill $chunked $whole 2>/dev/null || true' EXIT
wait_healthy 8801 8802

long_prompt() { $bench long-prompt --base-url "http://127.0.0.1:$1/v1" --model small --streams "${2:-4}" --long-words 670 --seed "$3"; }
for round in $(seq 1 "$rounds"); do
  echo "round $round (idle CPU $(idle_cpu)%, steal $(vmstat 1 2 | tail -1 | awk '{print $17}')%)"
  echo "  alone, unchunked:   $(long_prompt 8802 0 $round | head -1)"
  echo "  chunked worker:     $(long_prompt 8801 4 $round | tr '\n' ' ')"
  echo "  unchunked worker:   $(long_prompt 8802 4 $round | tr '\n' ' ')"
done
echo "iteration tokens on the chunked worker (le: cumulative count):"
curl -s http://127.0.0.1:8801/metrics | grep '^vllm:iteration_tokens_total_bucket' | sed 's/.*le="\([^"]*\)"} \(.*\)/  le=\1 \2/'
