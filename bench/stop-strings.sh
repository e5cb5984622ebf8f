#!/usr/bin/env bash
# Head-of-line blocking by stop strings, on the small model: an unrelated request's latency beside one request of
# n=16 sequences with STOP_STRINGS (100000) stop strings and beside the same request without them, rounds
# counterbalanced (bench/compare.sh); samples count only while /engine/stats shows the heavy request's sequences
# running. The ratio should be about 1: the strings are the heavy request's own output processor's work.
#   ROUNDS=4 bench/stop-strings.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-4}"
source bench/lib.sh
build_and_model
worker=$(start_worker 8791 --max-stop-sequences "${STOP_STRINGS:-100000}" --max-num-seqs 32 "$@")
trap 'kill $worker 2>/dev/null || true' EXIT
wait_healthy 8791
strings() { $bench stop-strings --base-url http://127.0.0.1:8791 --model small --stop-strings "$1" "${@:2}"; }
echo "unrelated request alone: $(strings 0 --n 0)"
compare "$rounds" "without-stop-strings=strings 0" "with-stop-strings=strings ${STOP_STRINGS:-100000}"
