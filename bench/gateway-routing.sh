#!/usr/bin/env bash
# The gateway's routing on the small model, side by side in one run; two workers (one intra-op thread each) and one
# gateway per policy in front of them, rounds alternated:
#   1. what the gateway adds: TTFT through a gateway in front of one worker vs that worker directly, concurrency 8 and 1;
#   2. a skewed workload (a quarter of the requests ask for 300 tokens, the rest 16; Poisson arrivals at 3/s):
#      TTFT through LoadAware, RoundRobin and PowerOfTwoChoices;
#   3. multi-turn chats (6 chats × 4 turns): the workers' own prefix-cache hit rate through LoadAware (prefix
#      affinity) vs PowerOfTwoChoices.
#   ROUNDS=2 bench/gateway-routing.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-2}"
source bench/lib.sh
build_and_model
dotnet build -c Release Gateway -v q -nologo >/dev/null
a=$(start_worker 8821 --intra-op-threads 1)
b=$(start_worker 8822 --intra-op-threads 1)
gateway() { # PORT POLICY WORKER_PORT…
  local port=$1 policy=$2; shift 2
  local args=(--urls "http://127.0.0.1:$port" --Logging:LogLevel:Default=Warning "--ReverseProxy:Clusters:workers:LoadBalancingPolicy=$policy")
  for worker in "$@"; do args+=("--ReverseProxy:Clusters:workers:Destinations:w$worker:Address=http://127.0.0.1:$worker/"); done
  (cd Gateway/bin/Release/net10.0 && exec dotnet Gateway.dll "${args[@]}" >/dev/null 2>&1) &
  echo $!
}
one=$(gateway 8823 LoadAware 8821)
load=$(gateway 8824 LoadAware 8821 8822)
rr=$(gateway 8825 RoundRobin 8821 8822)
p2c=$(gateway 8826 PowerOfTwoChoices 8821 8822)
trap 'kill $a $b $one $load $rr $p2c 2>/dev/null || true' EXIT
wait_healthy 8821 8822 8823 8824 8825 8826
idle() { vmstat 1 2 | tail -1 | awk '{print $15}'; }
ttft() { awk '/Median TTFT/ {m=$NF} /P99 TTFT/ {p=$NF} /Failed requests/ {f=$NF} END {print "TTFT p50 " m " ms, p99 " p " ms (" f " failed)"}'; }

echo "## 1. what the gateway adds (32 prompts of 32 words, 64 tokens; concurrency 8, then 1)"
for round in $(seq 1 "$rounds"); do
  echo "round $round (idle CPU $(idle)%)"
  for concurrency in 8 1; do
    # Each run its own prompts: a prompt another run sent would be served from the worker's prefix cache.
    echo "  c=$concurrency direct:  $($bench serve --base-url http://127.0.0.1:8821/v1 --model small --num-prompts 32 --max-concurrency $concurrency --output-len 64 --seed "$round" --prompt-seed "$((round * 100 + concurrency))" | ttft)"
    echo "  c=$concurrency gateway: $($bench serve --base-url http://127.0.0.1:8823/v1 --model small --num-prompts 32 --max-concurrency $concurrency --output-len 64 --seed "$round" --prompt-seed "$((round * 100 + concurrency + 50))" | ttft)"
  done
done
kill $one # its polls would load worker a during the comparisons below

echo "## 2. skewed workload (40 requests at 3/s, a quarter asking for 300 tokens)"
for round in $(seq 1 "$rounds"); do
  echo "round $round (idle CPU $(idle)%)"
  # The same arrivals and lengths for each policy, its own prompt texts; the order turns each round.
  order=(8824:LoadAware 8825:RoundRobin 8826:PowerOfTwoChoices)
  for i in 0 1 2; do
    policy=${order[$(( (i + round - 1) % 3 ))]}
    echo "  ${policy#*:}: $($bench serve --base-url "http://127.0.0.1:${policy%%:*}/v1" --model small --num-prompts 40 --request-rate 3 \
      --output-len 16 --long-fraction 0.25 --long-output-len 300 --seed "$((round * 10))" --prompt-seed "$((round * 1000 + ${policy%%:*}))" | ttft)"
  done
done

echo "## 3. multi-turn chats: the workers' prefix-cache hit rate"
hits() { for port in 8821 8822; do curl -s "http://127.0.0.1:$port/metrics?name%5B%5D=vllm:prefix_cache_hits_total&name%5B%5D=vllm:prefix_cache_queries_total"; done \
  | awk '/^vllm:prefix_cache_hits_total/ {h+=$NF} /^vllm:prefix_cache_queries_total/ {q+=$NF} END {print h, q}'; }
for round in $(seq 1 "$rounds"); do
  echo "round $round (idle CPU $(idle)%)"
  for policy in 8824:LoadAware 8826:PowerOfTwoChoices; do
    read -r h0 q0 < <(hits)
    result=$($bench multi-turn --base-url "http://127.0.0.1:${policy%%:*}/v1" --model small --chats 6 --turns 4 --seed "$((round * 100 + ${policy%%:*}))")
    read -r h1 q1 < <(hits)
    echo "  ${policy#*:}: hit rate $(echo "scale=3; ($h1 - $h0) / ($q1 - $q0)" | bc) ($((h1 - h0)) of $((q1 - q0)) prompt tokens); $result"
  done
done
