#!/usr/bin/env bash
# Multi-LoRA throughput, the README's "LoRA" figures: 8 streams at once (16 requests of 128 tokens) on the small model
# built LoRA-ready with four adapters, base requests only against requests spread over 1, 2 and 4 adapters (each picks
# one at random, as vLLM's bench serve --lora-modules does), and the base on the plain (not LoRA-ready) model, rounds
# counterbalanced, every arm's prompts new to every prefix cache (a seed per round and arm).
#   ROUNDS=2 bench/lora-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
lora_model="${LORA_MODEL_DIR:-$(dirname "$model")/small-lora}"
[[ -f "$lora_model/genai_config.json" ]] || dotnet Worker/bin/Release/net10.0/Worker.dll build-model --out "$lora_model" --size small \
  --lora a1 --lora a2 --lora a3 --lora a4 >/dev/null
lora_port="${PORT:-8767}"; plain_port=$((lora_port + 1))
modules=$(for a in a1 a2 a3 a4; do printf '%s=%s ' "$a" "$lora_model/lora/$a"; done)
lora_worker=$(run_worker --model "$lora_model" --served-model-name small --urls "http://127.0.0.1:$lora_port" \
  --enable-lora --max-loras 4 --lora-modules $modules)
plain_worker=$(start_worker "$plain_port")
trap 'kill $lora_worker $plain_worker 2>/dev/null || true' EXIT
wait_healthy "$lora_port" "$plain_port"

serve() { # PORT ARM [a1,a2,…]: output tokens/s at c=8; the prompts are the round's and the arm's own
  $bench serve --base-url "http://127.0.0.1:$1/v1" --model small --num-prompts 16 --max-concurrency 8 --output-len 128 \
    --prompt-seed $((2000 + 10 * ${round:-0} + $2)) --num-warmups 8 ${3:+--lora-modules $3} |
    awk '/Output token throughput/ {t = $NF} /Failed requests/ {f = $NF} END {print t, "tok/s,", f, "failed"}'
}
for _ in 1 2; do serve "$lora_port" 0 a1,a2,a3,a4 >/dev/null; serve "$plain_port" 0 >/dev/null; done   # JIT and every adapter loaded
echo "## c=8 output tokens/s: base only on the LoRA-ready model, then requests over 1, 2, 4 adapters, and the plain model's base"
compare "${ROUNDS:-2}" "base=serve $lora_port 1" "1-adapter=serve $lora_port 2 a1" "2-adapters=serve $lora_port 3 a1,a2" "4-adapters=serve $lora_port 4 a1,a2,a3,a4" \
  "plain-model=serve $plain_port 5"
