# Shared by the benchmark scripts: Release builds, the small model (built once into $MODEL_DIR), workers, and the A/B harness.
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh"

build_and_model() {
  model="$(realpath -m "${MODEL_DIR:-$(mktemp -d)/small}")"
  dotnet build -c Release Worker -v q -nologo >/dev/null
  dotnet build -c Release bench -v q -nologo >/dev/null
  [[ -f "$model/genai_config.json" ]] || dotnet Worker/bin/Release/net10.0/Worker.dll build-model --out "$model" --size small
  bench=bench/bin/Release/net10.0/vellum-bench
}

# run_worker [DIR] [flags…]: a worker from its build folder (the Release build of this tree, or of the tree DIR), in the
# background; prints its pid. Its folder is its content root, as when it is deployed, so it reads its appsettings.json
# (started elsewhere it would log every request at Information: a cost no deployment pays).
run_worker() {
  local tree=.
  [[ -d "${1:-}" ]] && { tree=$1; shift; }
  (cd "$tree/Worker/bin/Release/net10.0" && exec dotnet Worker.dll "$@" >/dev/null 2>&1) &
  echo $!
}

# before_tree REV: a Release build of commit REV in a worktree of its own (remove it with git worktree remove); prints its path.
before_tree() {
  local tree
  tree="$(mktemp -d)/before"
  git worktree add -q --detach "$tree" "$1"
  dotnet build -c Release "$tree/Worker" -v q -nologo >/dev/null
  echo "$tree"
}

# before_and_after REV OLD_PORT NEW_PORT: a worker of commit REV (built in a worktree of its own) and one of this tree,
# both on the small model and healthy; sets $old and $new to their pids. On exit both stop and the worktree goes.
before_and_after() {
  old_tree=$(before_tree "$1")
  old=$(run_worker "$old_tree" --model "$model" --served-model-name small --urls "http://127.0.0.1:$2")
  new=$(start_worker "$3")
  trap 'kill $old $new 2>/dev/null || true; git worktree remove --force "$old_tree"' EXIT
  wait_healthy "$2" "$3"
}

# start_worker PORT [flags…]: starts a worker on the small model in the background and prints its pid.
start_worker() {
  local port=$1; shift
  run_worker --model "$model" --served-model-name small --urls "http://127.0.0.1:$port" "$@"
}

# A prompt seed no earlier run used (a 30-bit random number): its prompts are new to every prefix cache.
fresh_seed() { echo $(( RANDOM * 32768 + RANDOM )); }

wait_healthy() { # PORT…
  for port in "$@"; do until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done; done
}

# A router's filtered poll: name[] for the three load gauges (what vellum-bench exposition's default --filter asks).
router_poll="/metrics?name%5B%5D=vllm%3Anum_requests_waiting&name%5B%5D=vllm%3Anum_requests_running&name%5B%5D=vllm%3Akv_cache_usage_perc"

# scrape_while URL COMMAND…: polls URL 20 times a second from a scraper process of its own (vellum-bench scrape: as
# Prometheus or a router on another machine, not sharing the load generator's thread pool) while COMMAND runs;
# prints the scraper's line (count, p50, p99).
scrape_while() {
  local url=$1 err out scraper; shift
  err=$(mktemp); out=$(mktemp)
  $bench scrape --url "$url" --rate 20 >"$out" 2>"$err" &
  scraper=$!
  until grep -q polling "$err"; do kill -0 $scraper || { cat "$err" >&2; return 1; }; sleep 0.05; done
  "$@" >/dev/null
  kill -TERM $scraper
  wait $scraper
  cat "$out"; rm -f "$err" "$out"
}

# reclaim_for_run: with RECLAIM=paused, pauses this machine's DAMON page reclaim (kdamond.0, see bench/kernel-cpu.py)
# until the calling script exits, when a watcher puts it back (whatever the script's own EXIT trap does); root only.
# Prints the reclaim's state either way, for the run's record.
reclaim_for_run() {
  local state=/sys/kernel/mm/damon/admin/kdamonds/0/state was
  was=$(cat $state 2>/dev/null || echo none)
  if [[ ${RECLAIM:-} == paused && $was == on ]]; then
    echo off >$state
    (while kill -0 $$ 2>/dev/null; do sleep 1; done; echo on >$state) >/dev/null 2>&1 &
  fi
  echo "DAMON page reclaim: $was before the run, $(cat $state 2>/dev/null || echo none) during it"
}
