#!/usr/bin/env bash
# Runs every test file (test/**/*.test.ts) with node's test runner under tsx.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node telemetry off in the runner and every test process it starts (see node/no-telemetry.mjs).
export ORT_DISABLE_TELEMETRY=1
node scripts/build-simd.mjs
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
exec node --import ./node/no-telemetry.mjs --import tsx --test --test-concurrency=1 "${files[@]}"
