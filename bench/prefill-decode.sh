#!/usr/bin/env bash
# P/D on the small model, side by side in one run. Two workers (one intra-op thread each: two cores, one per worker,
# as two machines would be) in two topologies behind a gateway of their own:
#   P/D:        a prefill worker (kv_producer) and a decode worker (kv_consumer); the gateway splits long prompts;
#   co-located: two plain workers; the gateway balances whole requests (power of two choices).
# Rounds are counterbalanced between the topologies (bench/compare.sh; the idle one costs nothing). Prints, per round, the mixed load's long-prompt
# TTFT and the running streams' inter-token latency; then the KV transfer itself: bytes/s on loopback and a decode
# worker's TTFT after reading a prompt's KV against recomputing it.
#   ROUNDS=3 bench/prefill-decode.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
source bench/lib.sh
build_and_model
dotnet build -c Release Gateway -v q -nologo >/dev/null
threads=(--intra-op-threads 1)
producer=$(start_worker 8811 "${threads[@]}" --kv-transfer-config '{"kv_connector":"TcpKvConnector","kv_role":"kv_producer","kv_port":0}')
consumer=$(start_worker 8812 "${threads[@]}" --enable-per-request-metrics --kv-transfer-config '{"kv_connector":"TcpKvConnector","kv_role":"kv_consumer"}')
plain_a=$(start_worker 8813 "${threads[@]}")
plain_b=$(start_worker 8814 "${threads[@]}")
gateway() { # PORT then cluster:name:port…
  local port=$1; shift
  local args=(--urls "http://127.0.0.1:$port" --Logging:LogLevel:Default=Warning)
  for destination in "$@"; do
    IFS=: read -r cluster name worker <<<"$destination"
    args+=("--ReverseProxy:Clusters:$cluster:Destinations:$name:Address=http://127.0.0.1:$worker/")
  done
  (cd Gateway/bin/Release/net10.0 && exec dotnet Gateway.dll "${args[@]}" >/dev/null 2>&1) &
  echo $!
}
pd_gateway=$(gateway 8815 workers:decode:8812 prefill:prefill:8811)
colocated_gateway=$(gateway 8816 workers:a:8813 workers:b:8814)
trap 'kill $producer $consumer $plain_a $plain_b $pd_gateway $colocated_gateway 2>/dev/null || true' EXIT
wait_healthy 8811 8812 8813 8814 8815 8816

mixed() { $bench mixed-load --base-url "http://127.0.0.1:$1/v1" --model small --streams 4 --output-len 300 --long-prompts 6 --long-words 500 --interval-s 2 --seed "$round"; }
echo "## mixed load: 4 streams (300 tokens each) while 6 prompts of ~1,300 tokens arrive 2 s apart (the streams' p99 ITL first)"
compare "$rounds" "P/D=mixed 8815" "co-located=mixed 8816"
echo "P/D gateway decisions: $(curl -s http://127.0.0.1:8815/metrics | grep '^vellum_gateway_prefill_decode_requests_total' | sed 's/.*decision="\([^"]*\)"} \(.*\)/\1=\2/' | paste -sd' ')"
echo
echo "## KV transfer vs recompute, read and recompute counterbalanced (idle CPU $(idle_cpu)%)"
$bench kv-transfer --prefill-url http://127.0.0.1:8811/v1 --decode-url http://127.0.0.1:8812/v1 --model small --prompt-words 100,300,700 --rounds "$rounds"
