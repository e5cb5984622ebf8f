#!/usr/bin/env bash
# A scrape's latency while 8 streams decode (issue 19, point 5: p99 ≤ 5 ms), as a scraper sees it and where it goes.
# A scraper process of its own (vellum-bench scrape, one keep-alive connection, 20 polls a second: as Prometheus or a
# router on another machine) polls, in turn, a router's filtered poll, /alive (the worker's cheapest request) and
# bench/floor-server.py (the least any server can do: what a request waits for a CPU here, whoever serves it). Beside
# the client's view, the worker's own from ASP.NET Core's hosting log ("Request finished … in X ms": from the
# request's start in the server to its end), and the CPU the kernel's own threads took meanwhile (bench/kernel-cpu.py:
# the machine's DAMON page reclaim holds a CPU for 1–16 ms at a time). Targets rotate round by round; idle CPU before
# each round. RECLAIM=paused pauses that reclaim for the run (reclaim_for_run in bench/lib.sh) to show what it costs.
#   MODEL_DIR=/tmp/vellum-bench/small ROUNDS=3 [RECLAIM=paused] bash bench/scrape-latency-split.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
log="$(mktemp)"
# Only the hosting diagnostics logger at Information: one line per request, nothing else.
(cd Worker/bin/Release/net10.0 && exec dotnet Worker.dll --model "$model" --served-model-name small --urls http://127.0.0.1:8797 \
  --Logging:LogLevel:Default Warning --Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics Information >"$log" 2>&1) &
worker=$!
python3 bench/floor-server.py 8798 &
floor=$!
kernel="$(mktemp)"
trap 'kill $worker $floor 2>/dev/null || true; rm -f "$log" "$kernel"' EXIT
reclaim_for_run
wait_healthy 8797
declare -A url=(
  [filtered]="http://127.0.0.1:8797$router_poll"
  [alive]="http://127.0.0.1:8797/alive"
  [floor]="http://127.0.0.1:8798/metrics")
declare -A path=([filtered]=/metrics [alive]=/alive)
serve() { $bench serve --base-url "http://127.0.0.1:8797/v1" --model small --num-prompts "${PROMPTS:-128}" --max-concurrency 8 --output-len 96 --prompt-seed "$(fresh_seed)" "$@"; }
# Warmed as a worker that has served and been scraped for a while: one untimed case per polled path, so that the
# streams' and the polls' code is past its tiers of JIT (the runtime's tiering thread otherwise takes a core for 2–4 ms
# at a time in the first cases).
for target in filtered alive; do scrape_while "${url[$target]}" serve >/dev/null; done
# p50 and p99 (nearest rank) of the worker's own times for requests to PATH since the log was cut.
server_side() {
  grep -a "Request finished" "$log" | grep -a "8797$1" | sed -E 's/.* ([0-9.]+)ms$/\1/' | sort -g |
    awk '{v[NR]=$1} END {if (NR == 0) {print "no lines"; exit} p=int(NR*0.99+0.999); if (p > NR) p=NR; printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms", v[int(NR*0.5+0.999)], v[p], v[NR]}'
}
targets=(filtered alive floor)
for round in $(seq 1 "${ROUNDS:-3}"); do
  echo "round $round (idle CPU $(idle_cpu)%):"
  for target in "${targets[@]}"; do
    : >"$log"
    python3 bench/kernel-cpu.py snapshot "$kernel"
    client=$(scrape_while "${url[$target]}" serve)
    line="  $target: client ${client#scrapes: }"
    [[ -n "${path[$target]:-}" ]] && line+="; worker $(server_side "${path[$target]}")"
    line+="; $(python3 bench/kernel-cpu.py since "$kernel")"
    echo "$line"
  done
  targets=("${targets[@]:1}" "${targets[0]}")
done
