#!/usr/bin/env bash
# Where the slowest scrapes' time goes while 8 streams decode (issue 19, point 5), from the kernel's scheduler trace:
# a blocking scraper (bench/trace-poller.py, 20 filtered polls a second) marks each scrape in the trace; for the
# slowest, bench/scrape-trace.py tells who had each CPU while it was in flight (the engine loop, the worker's other
# threads by name: thread pool, socket engine, server GC…; the load generator) and how long the scraper, answered, waited for a CPU. Needs root and tracefs.
#   MODEL_DIR=/tmp/vellum-bench/small SECONDS_TRACED=15 bash bench/scrape-trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tracing=/sys/kernel/tracing
[[ -w $tracing/trace_marker ]] || mount -t tracefs nodev $tracing 2>/dev/null || true
[[ -w $tracing/trace_marker ]] || { echo "needs root and tracefs at $tracing" >&2; exit 1; }
source bench/lib.sh
build_and_model
work=$(mktemp -d)
worker=$(start_worker 8796)
trap 'echo 0 >$tracing/tracing_on; echo 0 >$tracing/events/sched/enable; kill $worker 2>/dev/null || true; rm -rf "$work"' EXIT
wait_healthy 8796
serve() { $bench serve --base-url "http://127.0.0.1:8796/v1" --model small --num-prompts "$1" --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)"; }
scrape_while "http://127.0.0.1:8796$router_poll" serve 128 >/dev/null   # past the tiers of JIT, as in scrape-latency-split.sh
echo 0 >$tracing/tracing_on; echo >$tracing/trace; echo 65536 >$tracing/buffer_size_kb
for event in sched_switch sched_wakeup sched_wakeup_new; do echo 1 >$tracing/events/sched/$event/enable; done
serve 256 >/dev/null &
load=$!
until serve_pid=$(pgrep -f "vellum-bench serve --base-url http://127.0.0.1:8796"); do sleep 0.05; done
sleep 1   # the streams decoding
echo 1 >$tracing/tracing_on
python3 bench/trace-poller.py 8796 "$router_poll" 20 "${SECONDS_TRACED:-15}" &
scraper=$!
wait $scraper
echo 0 >$tracing/tracing_on
for task in /proc/$worker/task/*; do echo "${task##*/} $(cat "$task/comm")"; done >"$work/worker.threads"; ls /proc/$serve_pid/task >"$work/serve.tids"
cat $tracing/trace >"$work/trace"
kill $load 2>/dev/null || true
echo "trace: $(grep -c sched_switch "$work/trace") context switches"
python3 bench/scrape-trace.py "$work/trace" "$work/worker.threads" "$work/serve.tids" "$scraper" "${SLOWEST:-5}"
