#!/usr/bin/env bash
# CI step: AddressSanitizer (nightly -Zsanitizer=address) over every SIMD tier's kernels and
# a compiled network.
#
#  1. Runs the runtime's tests (runtime/tests/kernels.rs: every kernel on every tier this CPU
#     has, AVX2 and AVX-512 on the CI machine, against scalar) built with ASan.
#  2. Compiles the embedded digits GhostNet (compiler/models) with ghostc into a scratch
#     crate (.ci/steps/ub_check.rs), builds it with ASan, and runs it on every tier the CPU
#     has (GHOSTNET_ISA=scalar, avx2, avx512) with 1, 2 and 3 threads: outputs against ONNX
#     Runtime's, threaded runs bit-identical to one thread.
#
# Run from anywhere: `bash .ci/steps/asan.sh`. Idempotent (nightly's ASan runtime ships with
# the toolchain). The ASan builds use their own target dirs, so they never mix with normal ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
say() { echo "asan.sh: $*"; }
source .ci/steps/ub_common.sh
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
readonly TARGET=x86_64-unknown-linux-gnu
base="${CARGO_TARGET_DIR:-$PWD/target}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}

say "runtime kernel tests under ASan"
# opt-level 1: the 8-bit and bf16 kernel tests loop over thousands of shapes on every tier,
# several times slower unoptimized; ASan checks every access the optimized code makes.
RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$base/asan" CARGO_PROFILE_DEV_OPT_LEVEL=1 \
    nice -n 19 cargo +nightly test -q --target $TARGET -p ghostnet-runtime --tests
say "kernel tests done in $(($(date +%s) - start)) s"

dir="$base/asan-net"
make_net_crate "$dir" compiler/models/digits_ghostnet.test_x.bin compiler/models/digits_ghostnet.ort.bin 10 \
    compiler/models/digits_ghostnet.onnx
(cd "$dir" && RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$dir/target" \
    nice -n 19 cargo +nightly build -q --release --target $TARGET)
exe="$dir/target/$TARGET/release/ub_check"
for isa in scalar avx2 avx512; do
    if [ "$isa" != scalar ] && ! grep -q "$([ $isa = avx2 ] && echo avx2 || echo avx512f)" /proc/cpuinfo; then
        say "this CPU has no $isa; skipped"
        continue
    fi
    say "digits GhostNet on $isa"
    GHOSTNET_ISA=$isa "$exe" 2 3
done
say "ok in $(($(date +%s) - start)) s"
