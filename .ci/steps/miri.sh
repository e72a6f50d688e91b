#!/usr/bin/env bash
# CI step: Miri (nightly) over the runtime's scalar kernels and one compiled network.
#
#  1. Installs what it needs, once: nightly's miri and rust-src components.
#  2. Runs the runtime's tests under Miri: the unit tests, and from runtime/tests/kernels.rs
#     the tests that run the scalar tier on its own (the definitions of GEMM in f32 and
#     bfloat16, depthwise, average pooling, int8 quantization, the split into parts,
#     out-of-range accesses, exp, bfloat16 rounding; average pooling skips its large sizes
#     under cfg(miri)). The SIMD tiers do not
#     run under Miri (it detects no AVX2 or AVX-512); AddressSanitizer covers them (asan.sh).
#  3. Compiles a small GhostNetV2 from the DSL (attention gate, squeeze-excite, stride 2,
#     16x16) with ghostc into a scratch crate (.ci/steps/ub_check.rs) and runs it under Miri
#     with GHOSTNET_ISA=scalar through `forward` and `forward_threads` with 2 threads
#     (bit-identical; Miri also checks the threads for data races).
#     With GHOSTNET_MIRI_DIGITS=1 it first runs the embedded digits GhostNet (compiler/models)
#     the same way through `forward`, checked against ONNX Runtime: about five minutes of Miri
#     per forward pass, so it is left out of CI (subset).
#
# Run from anywhere: `bash .ci/steps/miri.sh`. Idempotent. GHOSTNET_MIRI_NET=0 skips step 3.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
say() { echo "miri.sh: $*"; }
source .ci/steps/ub_common.sh

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 || rustup component add --toolchain nightly miri rust-src
cargo +nightly miri setup >/dev/null

scalar_tests=(
    gemm_scalar_matches_the_definition
    depthwise_scalar_matches_the_definition_with_padding
    average_pool_matches_scalar_and_the_definition
    parts_cover_every_index_once
    out_of_range_access_panics_instead_of_corrupting
    exp_is_accurate
    gemm_bf16_scalar_matches_the_definition
    bf16_rounding_is_to_nearest_even
    quantize_matches_scalar_bit_for_bit
)
say "runtime unit tests and scalar kernel tests"
nice -n 19 cargo +nightly miri test -q -p ghostnet-runtime --lib
nice -n 19 cargo +nightly miri test -q -p ghostnet-runtime --test kernels -- --exact "${scalar_tests[@]}"
nice -n 19 cargo +nightly miri test -q -p ghostnet-runtime --test nd
say "runtime tests done in $(($(date +%s) - start)) s"

if [ "${GHOSTNET_MIRI_NET:-1}" != 0 ]; then
    base="${CARGO_TARGET_DIR:-$PWD/target}"
    export GHOSTNET_ISA=scalar
    export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-env-forward=GHOSTNET_ISA"
    if [ "${GHOSTNET_MIRI_DIGITS:-0}" != 0 ]; then
        # About five minutes of Miri per forward pass: run by hand, not in CI.
        dir="$base/miri-digits"
        make_net_crate "$dir" compiler/models/digits_ghostnet.test_x.bin compiler/models/digits_ghostnet.ort.bin 10 \
            compiler/models/digits_ghostnet.onnx
        say "digits GhostNet under Miri (scalar tier, forward)"
        (cd "$dir" && CARGO_TARGET_DIR="$dir/target" nice -n 19 cargo +nightly miri run -q -- 1)
    fi
    dir="$base/miri-tiny"
    make_net_crate "$dir" - - 0 --alpha 0.5 --version 2 --input 1x3x16x16 --classes 4 \
        --stages '[[[3, 16, 16, 0, 1]], [[3, 48, 24, 0.25, 2]], [[3, 48, 24, 0, 1]]]'
    say "a small GhostNetV2 under Miri (scalar tier, forward and forward_threads with 2 threads)"
    (cd "$dir" && CARGO_TARGET_DIR="$dir/target" nice -n 19 cargo +nightly miri run -q -- 2)
fi
say "ok in $(($(date +%s) - start)) s"
