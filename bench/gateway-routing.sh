#!/usr/bin/env bash
# The gateway's routing on the small model, side by side in one run; two workers (one intra-op thread each) and one
# gateway per policy in front of them, rounds counterbalanced (bench/compare.sh), and only the gateway under test running (the others SIGSTOPped):
#   1. what the gateway adds: TTFT through a gateway in front of one worker vs that worker directly, concurrency 8 and 1;
#   2. a skewed workload (a quarter of the requests ask for 300 tokens, the rest 16; Poisson arrivals at 3/s):
#      TTFT through LoadAware, RoundRobin and PowerOfTwoChoices;
#   3. multi-turn chats (6 chats × 4 turns): the workers' own prefix-cache hit rate through LoadAware (prefix
#      affinity) vs PowerOfTwoChoices.
#   ROUNDS=4 bench/gateway-routing.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-4}"
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
trap 'kill -CONT $one $load $rr $p2c 2>/dev/null; kill $a $b $one $load $rr $p2c 2>/dev/null || true' EXIT
wait_healthy 8821 8822 8823 8824 8825 8826
ttft() { awk '/Median TTFT/ {m=$NF} /P99 TTFT/ {p=$NF} /Failed requests/ {f=$NF} END {print m, "(p50 TTFT ms; p99 " p " ms, " f " failed)"}'; }
# Only the gateway under test runs: the others are stopped (SIGSTOP), so no idle gateway's 50 ms polls load the workers.
gateways=($one $load $rr $p2c)
only() { for pid in "${gateways[@]}"; do kill -STOP "$pid"; done; [[ -n "${1:-}" ]] && kill -CONT "$1"; true; }
serve() { # port concurrency → TTFT line; each run its own prompts, so no run is served from another's prefix cache
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 32 --max-concurrency "$2" --output-len 64 --prompt-seed "$(fresh_seed)" | ttft
}
direct() { only; serve 8821 "$1"; }
through() { only "$one"; serve 8823 "$1"; }

for concurrency in 8 1; do
  echo "## 1. what the gateway adds: TTFT at concurrency $concurrency (32 prompts of 32 words, 64 tokens); direct runs with every gateway stopped"
  compare "$rounds" "direct=direct $concurrency" "gateway=through $concurrency"
done

echo "## 2. skewed workload (40 requests at 3/s, a quarter asking for 300 tokens): TTFT by policy, only that policy's gateway running"
skewed() { # gateway-pid port round-seed → TTFT line; the same arrivals and lengths for every policy (--seed), its own prompt texts
  only "$1"
  $bench serve --base-url "http://127.0.0.1:$2/v1" --model small --num-prompts 40 --request-rate 3 --output-len 16 \
    --long-fraction 0.25 --long-output-len 300 --seed 10 --prompt-seed "$(fresh_seed)" | ttft
}
compare "$rounds" "LoadAware=skewed $load 8824" "RoundRobin=skewed $rr 8825" "PowerOfTwoChoices=skewed $p2c 8826"

echo "## 3. multi-turn chats (6 chats × 4 turns): the workers' prefix-cache hit rate, only that policy's gateway running"
hits() { for port in 8821 8822; do curl -s "http://127.0.0.1:$port/metrics?name%5B%5D=vllm:prefix_cache_hits_total&name%5B%5D=vllm:prefix_cache_queries_total"; done \
  | awk '/^vllm:prefix_cache_hits_total/ {h+=$NF} /^vllm:prefix_cache_queries_total/ {q+=$NF} END {print h, q}'; }
chats() { # gateway-pid port → hit rate of this run, and the workload's computed ceiling
  only "$1"
  local h0 q0 h1 q1 result
  read -r h0 q0 < <(hits)
  result=$($bench multi-turn --base-url "http://127.0.0.1:$2/v1" --model small --tokenize-url http://127.0.0.1:8821/tokenize --chats 6 --turns 4 --seed "$RANDOM")
  read -r h1 q1 < <(hits)
  echo "$(echo "scale=3; ($h1 - $h0) / ($q1 - $q0)" | bc) (hit rate: $((h1 - h0)) of $((q1 - q0)) prompt tokens); $result"
}
compare "$rounds" "LoadAware=chats $load 8824" "PowerOfTwoChoices=chats $p2c 8826"
