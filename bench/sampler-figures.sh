#!/usr/bin/env bash
# What temperature sampling costs the streams, before (BEFORE, a commit: 978e56b, which sorted the whole vocabulary
# for every sampled token) and after (this tree: candidates best first from a heap, only as far as the draw reaches),
# on the small model: 8 streams at temperature 0.8, output tokens per second, rounds counterbalanced
# (bench/compare.sh), fresh prompts each run, both workers from their build folders.
#   MODEL_DIR=/tmp/vellum-bench/small ROUNDS=4 bash bench/sampler-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
before="${BEFORE:-978e56b}"
before_and_after "$before" 8783 8784
serve() { $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 32 --max-concurrency 8 --output-len 96 --temperature 0.8 --prompt-seed "$(fresh_seed)"; }
tps() { serve "$1" | awk '/Output token throughput/ {print $NF}'; }
for port in 8783 8784; do serve $port >/dev/null; done
compare "${ROUNDS:-4}" "before=tps 8783" "after=tps 8784"
