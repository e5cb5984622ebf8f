#!/usr/bin/env bash
# What /metrics costs the worker (issue 19, point 5), before (BEFORE, a commit: 9e8cf49, the exposition that rendered
# every family and rewrote the text) and after (this tree), side by side in one run on the small model, every round
# printed:
#  1. worker CPU per scrape from /proc (utime + stime), over one keep-alive connection: a router's filtered poll
#     (name[] for the three load gauges), the full page as text and as OpenMetrics; and Python's prometheus_client
#     rendering the same full page in the same run. Rounds counterbalanced (before after, after before, …);
#  2. the full page's and the filtered poll's latency (p50/p99), polled 20 times a second by a scraper process of its
#     own while 8 streams decode, and the same of /alive, the worker's cheapest request;
#  3. what 20 filtered polls a second cost those streams' throughput: serving with and without the poller, in
#     counterbalanced rounds (bench/compare.sh), fresh prompts each run, on each worker.
# RECLAIM=paused pauses the machine's DAMON page reclaim for the run (see bench/scrape-latency-split.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
count="${COUNT:-2000}"
before="${BEFORE:-9e8cf49}"
source bench/lib.sh
build_and_model
reclaim_for_run
before_and_after "$before" 8781 8782
declare -A pid=([8781]=$old [8782]=$new) arm=([8781]=before [8782]=after)
filtered() { echo "http://127.0.0.1:$1$router_poll"; }
serve() { local port=$1; shift; $bench serve --base-url "http://127.0.0.1:$port/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)" "$@"; }
exposition() { $bench exposition --base-url "http://127.0.0.1:$1" --pid "${pid[$1]}" --count "$count" "${@:2}"; }
for port in 8781 8782; do
  serve $port --num-warmups 8 >/dev/null   # every histogram observed, every path jitted: the page as in production
  exposition $port >/dev/null              # the scrape paths' tiers of JIT, not measured
done

echo "== 1. worker CPU per scrape, idle worker, $count scrapes a case =="
for round in $(seq 1 "$rounds"); do
  order=(8781 8782); (( round % 2 == 0 )) && order=(8782 8781)
  echo "round $round (idle CPU $(idle_cpu)%):"
  for port in "${order[@]}"; do exposition "$port" --python /usr/bin/python3 | sed "s/^/  ${arm[$port]}: /"; done
done

echo "== 2. scrape latency while 8 streams decode, polled 20 times a second =="
for round in $(seq 1 "$rounds"); do
  order=(8781 8782); (( round % 2 == 0 )) && order=(8782 8781)
  echo "round $round (idle CPU $(idle_cpu)%):"
  for port in "${order[@]}"; do
    echo "  ${arm[$port]} full page: $(scrape_while "http://127.0.0.1:$port/metrics" serve "$port")"
    echo "  ${arm[$port]} filtered:  $(scrape_while "$(filtered "$port")" serve "$port")"
  done
  # The worker's cheapest request, /alive, polled alike: what any request of the worker waits for a CPU here.
  echo "  after /alive:     $(scrape_while "http://127.0.0.1:8782/alive" serve 8782)"
done

echo "== 3. throughput of 8 streams, without and with 20 filtered polls a second =="
tps() { serve "$@" | awk '/Output token throughput/ {print $NF}'; }
for port in 8781 8782; do
  echo "-- ${arm[$port]}:"
  compare "$(( rounds * 2 ))" "no-poller=tps $port" "20-filtered-polls=tps $port --scrape-url '$(filtered "$port")' --scrape-rate 20"
done
