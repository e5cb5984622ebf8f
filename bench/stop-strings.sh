#!/usr/bin/env bash
# Head-of-line blocking by stop strings, on the small model: an unrelated request's latency alone, then beside one
# request with STOP_STRINGS (100000) stop strings and n=16. Prints both; the first should barely move.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
build_and_model
worker=$(start_worker 8791 --max-stop-sequences "${STOP_STRINGS:-100000}" --max-num-seqs 32 "$@")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy 8791
echo "idle CPU before: $(vmstat 1 2 | tail -1 | awk '{print $15}') %"
$bench stop-strings --base-url http://127.0.0.1:8791 --model small --stop-strings "${STOP_STRINGS:-100000}"
echo "idle CPU after: $(vmstat 1 2 | tail -1 | awk '{print $15}') %"
