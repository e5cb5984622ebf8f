#!/usr/bin/env bash
# Structured output's cost (README "Structured output"): the mask's share of a decode step at batch 8 on the small model,
# constrained and unconstrained steps side by side (A B B A …, no HTTP), and mask time per token over a 32k-token
# vocabulary trained by build-tokenizer on the .NET SDK's XML API docs, against sampling alone, cold and warm.
#   MODEL_DIR=/tmp/vellum-bench/small ROUNDS=4 bash bench/structured-output.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build_and_model
tokenizer="$(dirname "$model")/tok32k"
docs="$(dirname "$(command -v dotnet | xargs readlink -f)")/packs/Microsoft.NETCore.App.Ref"
if [[ ! -f "$tokenizer/tokenizer.json" ]]; then
  dotnet Worker/bin/Release/net10.0/Worker.dll build-tokenizer --out "$tokenizer" --vocab-size 32000 --corpus README.md "$(ls -d "$docs"/*/ref/net*/ | tail -1)"*.xml
fi
echo "idle CPU before: $(idle_cpu)%"
"$bench" structured-output --model-dir "$model" --batch 8 --output-len "${OUTPUT_LEN:-128}" --rounds "${ROUNDS:-4}" --tokenizer-dir "$tokenizer"
echo "idle CPU after: $(idle_cpu)%"
