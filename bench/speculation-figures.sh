#!/usr/bin/env bash
# Speculative decoding on the small model, side by side in one run, rounds counterbalanced (bench/compare.sh), fresh
# prompts every run. Every row of the README's speculation table comes from here:
#   at each concurrency (CONCURRENCY="1 8"): a plain worker, draft-model workers with K = 2 and K = 4 and an n-gram
#   worker at the CPU default (disable_by_batch_size 2), the same draft workers always guessing
#   (disable_by_batch_size 64), on ordinary (random-word) prompts; the plain and n-gram workers on repeated phrases.
# Prints output tokens/s per run with that run's acceptance rate and mean acceptance length (counter deltas of the
# run's worker, read before and after it), and each arm's ratio of medians to the plain worker.
#   ROUNDS=4 bench/speculation-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
rounds="${ROUNDS:-4}"
concurrencies="${CONCURRENCY:-1 8}"

draft() { echo "{\"method\":\"draft_model\",\"num_speculative_tokens\":$1,\"disable_by_batch_size\":$2}"; }
plain=$(start_worker 8791)
k2=$(start_worker 8792 --speculative-config "$(draft 2 2)")
k4=$(start_worker 8793 --speculative-config "$(draft 4 2)")
ngram=$(start_worker 8794 --speculative-config '{"method":"ngram","num_speculative_tokens":4,"prompt_lookup_max":3,"prompt_lookup_min":1}')
k2_always=$(start_worker 8795 --speculative-config "$(draft 2 64)")
k4_always=$(start_worker 8796 --speculative-config "$(draft 4 64)")
trap 'kill $plain $k2 $k4 $ngram $k2_always $k4_always 2>/dev/null || true' EXIT
wait_healthy 8791 8792 8793 8794 8795 8796

counters() { # port → drafts proposed accepted (0 0 0 without speculation)
  curl -s "http://127.0.0.1:$1/metrics?name%5B%5D=vllm:spec_decode_num_drafts_total&name%5B%5D=vllm:spec_decode_num_draft_tokens_total&name%5B%5D=vllm:spec_decode_num_accepted_tokens_total" |
    awk '/^vllm:spec_decode_num_drafts_total/ {d=$NF} /^vllm:spec_decode_num_draft_tokens_total/ {p=$NF} /^vllm:spec_decode_num_accepted_tokens_total/ {a=$NF} END {print d+0, p+0, a+0}'
}
run() { # port dataset concurrency → "tok/s acceptance rate R, mean acceptance length L" for this run alone
  local d0 p0 a0 d1 p1 a1 rate
  read -r d0 p0 a0 < <(counters "$1")
  rate=$($bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts $(( 6 * $3 )) --max-concurrency "$3" --output-len 128 \
    --dataset "$2" --prompt-seed "$(fresh_seed)" | awk '/Output token throughput/ {print $NF}')
  read -r d1 p1 a1 < <(counters "$1")
  awk -v r="$rate" -v d=$((d1 - d0)) -v p=$((p1 - p0)) -v a=$((a1 - a0)) 'BEGIN {
    if (d == 0) { print r, "(no speculative round)" } else { printf "%s acceptance rate %.3f, mean acceptance length %.2f (%d rounds)\n", r, a / p, 1 + a / d, d } }'
}
for port in 8791 8792 8793 8794 8795 8796; do run $port random 1 >/dev/null; done   # warm-up

for concurrency in $concurrencies; do
  echo "## concurrency $concurrency, random-word prompts (output tokens/s)"
  compare "$rounds" "plain=run 8791 random $concurrency" "draft-k2=run 8792 random $concurrency" "draft-k4=run 8793 random $concurrency" \
    "ngram-k4=run 8794 random $concurrency" "draft-k2-always-guess=run 8795 random $concurrency" "draft-k4-always-guess=run 8796 random $concurrency"
  echo "## concurrency $concurrency, repeated phrases (output tokens/s)"
  compare "$rounds" "plain=run 8791 repeat $concurrency" "ngram-k4=run 8794 repeat $concurrency"
done
