#!/usr/bin/env bash
# Runs one fuzz target for a while, niced, with the limits the hardening issue asks for:
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
# TARGET is onnx_load, onnx_mutate, safetensors_load, dsl or differential. Seeds: fuzz/seeds/TARGET (small
# well-formed models and weights, written by the make_bad_inputs example), the bad-input
# corpus (compiler/tests/bad-inputs) and, when present, the digits weights from the fixtures
# ($GHOSTNET_FIXTURES or shared/fixtures above the repository). The working corpus
# is fuzz/corpus/TARGET (not checked in); crashes land in fuzz/artifacts/TARGET. The last
# lines of the log give the executions ("Done N runs in S second(s)").
# Fails (exit 1) when libFuzzer found a crash, a timeout (> 1 s; differential > 10 s) or an
# OOM (> 2048 MB).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")"
target=${1:?target}
seconds=${2:?seconds}
shift 2
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
corpus=corpus/$target
seeds=seeds/$target
mkdir -p "$corpus" "$seeds" "artifacts/$target"
fixtures=${GHOSTNET_FIXTURES:-}
if [ -z "$fixtures" ]; then
    d=$PWD
    while [ "$d" != / ]; do
        d=$(dirname "$d")
        [ -d "$d/shared/fixtures" ] && { fixtures=$d/shared/fixtures; break; }
    done
fi
extra=()
case $target in
    onnx_load | safetensors_load)
        # The bad-input corpus: small broken models, weights and stage tables.
        extra=(../compiler/tests/bad-inputs)
        ;;
esac
if [ "$target" = safetensors_load ] && [ -n "$fixtures" ] && [ -f "$fixtures/digits_ghostnet.safetensors" ]; then
    cp -f "$fixtures/digits_ghostnet.safetensors" "$corpus/"
fi
# -s none: the targets are safe Rust, so no sanitizer is needed to see their bugs (panics,
# overflow checks via -a, timeouts, memory); it runs about twice as fast.
# differential runs each network six times (every tier, one and two threads), the two-thread
# runs waiting on each other at every layer: on a loaded machine an input can take seconds
# without anything being wrong, so it gets 10 s.
timeout=1
[ "$target" = differential ] && timeout=10
nice -n 19 cargo +nightly fuzz run -s none -a "$target" "$corpus" "$seeds" "${extra[@]}" -- \
    -rss_limit_mb=2048 -timeout="$timeout" -max_total_time="$seconds" -print_final_stats=1 "$@"
