#!/usr/bin/env bash
# A soak of one worker on the small model: MINUTES (10) at CONCURRENCY (8) of streamed and whole completions, streams
# the client aborts, bad input, and a sleep/wake cycle every SLEEP_EVERY (30) seconds. Prints RSS after warm-up and at
# the end with its slope, what the idle engine still holds, and the counter balance; exits non-zero if a goal is missed
# (RSS growth after warm-up over 5 %, a leak, a miscount, a server error). Extra arguments go to the worker.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
build_and_model
export VLLM_SERVER_DEV_MODE=1
worker=$(start_worker 8781 "$@")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy 8781
echo "idle CPU before: $(vmstat 1 2 | tail -1 | awk '{print $15}') %"
$bench soak --base-url http://127.0.0.1:8781 --model small --pid "$worker" \
  --minutes "${MINUTES:-10}" --concurrency "${CONCURRENCY:-8}" --sleep-every "${SLEEP_EVERY:-30}" --warmup-seconds "${WARMUP_SECONDS:-60}"
