#!/usr/bin/env bash
# Speculative decoding on the small model at concurrency 1 and 8 (CONCURRENCY="1 8"), side by side in one run: a
# plain worker, draft-model workers with K = 2 and K = 4, and an n-gram worker, served in alternating rounds on
# ordinary (random-word) prompts, and the plain and n-gram workers on repeated phrases. Prints output tokens/s, the
# speed-up over the plain worker, the acceptance rate and the mean acceptance length (from each worker's /metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
rounds="${ROUNDS:-3}"
concurrencies="${CONCURRENCY:-1 8}"

plain=$(start_worker 8791)
k2=$(start_worker 8792 --speculative-config '{"method":"draft_model","num_speculative_tokens":2}')
k4=$(start_worker 8793 --speculative-config '{"method":"draft_model","num_speculative_tokens":4}')
ngram=$(start_worker 8794 --speculative-config '{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":3,"prompt_lookup_min":1}')
trap 'kill $plain $k2 $k4 $ngram 2>/dev/null || true' EXIT
wait_healthy 8791 8792 8793 8794

run() { # port dataset concurrency → output tokens/s
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts $(( 6 * $3 )) --max-concurrency "$3" --output-len 128 --dataset "$2" \
    | awk '/Output token throughput/ {print $NF}'
}
counter() { # port name → value
  curl -s "http://127.0.0.1:$1/metrics?name[]=$2" | awk -v n="$2" '$1 ~ "^"n"[{ ]" || $1 == n {print $2}' | head -1
}
for port in 8791 8792 8793 8794; do run $port random 1 >/dev/null; done   # warm-up

for concurrency in $concurrencies; do
  declare -A total=()
  for round in $(seq 1 "$rounds"); do
    for case in "8791 random plain" "8792 random k2" "8793 random k4" "8794 random ngram" "8791 repeat plain-repeat" "8794 repeat ngram-repeat"; do
      set -- $case
      rate=$(run "$1" "$2" "$concurrency")
      total[$3]=$(echo "${total[$3]:-0} + $rate" | bc)
      echo "concurrency $concurrency, round $round: $3 ($2 prompts) $rate tok/s (idle CPU $(vmstat 1 2 | tail -1 | awk '{print $15}')%)"
    done
  done
  for name in k2 k4 ngram; do echo "concurrency $concurrency: $name speed-up $(echo "scale=2; ${total[$name]} / ${total[plain]}" | bc)x over plain on random prompts"; done
  echo "concurrency $concurrency: ngram speed-up $(echo "scale=2; ${total[ngram-repeat]} / ${total[plain-repeat]}" | bc)x over plain on repeated phrases"
done
for port in 8792 8793 8794; do
  drafts=$(counter $port vllm:spec_decode_num_drafts_total)
  proposed=$(counter $port vllm:spec_decode_num_draft_tokens_total)
  accepted=$(counter $port vllm:spec_decode_num_accepted_tokens_total)
  echo "port $port: acceptance rate $(echo "scale=3; $accepted / $proposed" | bc), mean acceptance length $(echo "scale=2; 1 + $accepted / $drafts" | bc)"
done
