#!/usr/bin/env bash
# CI step: every cargo-fuzz target (fuzz/) for a short while, as a smoke test that the
# targets build and that nothing the fuzzer reaches quickly crashes, hangs (> 1 s per input)
# or runs out of memory (> 2048 MB). The long campaigns are run by hand (fuzz/README.md).
#
#  1. Installs what it needs, once: nightly and cargo-fuzz (cargo install).
#  2. Builds the five targets (no sanitizer: the targets are safe Rust; overflow checks and
#     debug assertions on).
#  3. Runs onnx_load, onnx_mutate, safetensors_load, dsl and differential for
#     $GHOSTNET_FUZZ_SECONDS each (default 12), one at a time, niced, from the checked-in
#     seeds (fuzz/seeds) and the bad-input corpus; a crash (for differential: a compiled
#     network that disagrees with the interpreter) fails the step and leaves its input in
#     fuzz/artifacts/.
#
# Run from anywhere: `bash .ci/steps/fuzz_smoke.sh`. Idempotent. The fuzz workspace has its
# own target dir (fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
say() { echo "fuzz_smoke.sh: $*"; }
seconds=${GHOSTNET_FUZZ_SECONDS:-12}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! command -v cargo-fuzz >/dev/null; then
    say "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
say "building the fuzz targets"
(cd fuzz && nice -n 19 cargo +nightly fuzz build -s none -a)
say "built in $(($(date +%s) - start)) s"
total=0
for target in onnx_load onnx_mutate safetensors_load dsl differential; do
    log=$(mktemp)
    if ! bash fuzz/run.sh "$target" "$seconds" >"$log" 2>&1; then
        tail -n 60 "$log"
        say "$target FAILED; the input is in fuzz/artifacts/$target/"
        exit 1
    fi
    runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo 0)
    total=$((total + runs))
    say "$target: $runs runs in $seconds s, no crash"
    rm -f "$log"
done
say "ok: $total runs in all, $(($(date +%s) - start)) s"
