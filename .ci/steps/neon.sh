#!/usr/bin/env bash
# CI step: the NEON (AArch64 Advanced SIMD) tier under emulation on an x86-64 machine.
#
#  1. Installs what it needs, once: the aarch64-unknown-linux-gnu Rust target (rustup; if
#     rustup cannot fetch it, Debian's rustc-web with its arm64 std and RUSTC=/usr/bin/rustc),
#     the cross linker and libc (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross), qemu-user.
#  2. Runs the runtime's kernel tests for aarch64 under qemu-aarch64: every kernel on the
#     NEON tier against scalar (runtime/tests/kernels.rs asserts on aarch64 that NEON ran);
#     then clippy's safety lints (undocumented_unsafe_blocks, missing_safety_doc) on the
#     aarch64 build of the runtime, which x86 clippy never sees.
#  3. Compiles networks with ghostc (the digits GhostNet from compiler/models with its 397
#     test images, and every ImageNet fixture), cross-builds them into a scratch crate with
#     no dependencies (.ci/steps/net_check.rs, warnings are errors), runs them under
#     qemu-aarch64 with GHOSTNET_ISA=neon and =scalar, one thread and two, and compares with
#     ONNX Runtime's outputs: max |diff| <= 1e-4 * max |ort| and the same top-5 in every row.
#     The digits GhostNet quantized by ONNX Runtime (the fixture digits_ghostnet.qdq, int8)
#     runs on neon, neondot (sdot) and scalar and must give ONNX Runtime's top-1 on 99% of
#     the images and its accuracy within 0.5 points.
#     GHOSTNET_ISA=avx2 there must be refused with a clear error.
#
# Run from anywhere: `bash .ci/steps/neon.sh`. Idempotent; the installs are skipped when
# present. The runner and linker are set here through CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_*
# so nothing changes for other cargo commands. Fixtures: $GHOSTNET_FIXTURES, else
# shared/fixtures in the nearest folder above the repository; missing, the fixture network is
# skipped with a notice, or fails under CI.
# Environment: GHOSTNET_NEON_TOOLCHAIN=debian forces the Debian fallback (to test it);
# CARGO_TARGET_DIR is honoured (the scratch crate lives in <target dir>/neon-check).
set -euo pipefail
# All of it is in one function, so that bash has read the whole file before running any of it.
main() {
    cd "$(dirname "$0")/../.."
    root=$PWD

    readonly TARGET=aarch64-unknown-linux-gnu
    readonly SYSROOT=/usr/aarch64-linux-gnu
    step_start=$(date +%s)

    say() { echo "neon.sh: $*"; }
    elapsed() { echo "$(($(date +%s) - $1)) s"; }

    # retry N COMMAND...: runs COMMAND up to N times, waiting a little longer after each failure.
    retry() {
        local tries=$1 i
        shift
        for ((i = 1; i <= tries; i++)); do
            "$@" && return 0
            say "attempt $i of $tries failed: $*"
            ((i < tries)) && sleep $((5 * i))
        done
        return 1
    }

    # quiet COMMAND...: runs COMMAND, showing its output only if it fails.
    quiet() {
        local log rc=0
        log=$(mktemp)
        "$@" >"$log" 2>&1 || rc=$?
        ((rc == 0)) || cat "$log"
        rm -f "$log"
        return "$rc"
    }

    installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep "install ok installed" >/dev/null; }

    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    apt_opts=(-o Acquire::Retries=3 -o Acquire::http::Timeout=60)

    apt_updated=0
    apt_update() {
        ((apt_updated)) && return 0
        retry 3 quiet "${sudo[@]}" apt-get "${apt_opts[@]}" update
        apt_updated=1
    }

    # apt_install PACKAGE...: installs the missing ones, updating the package lists first (on a
    # fresh machine they are empty or stale).
    apt_install() {
        local missing=() p
        for p in "$@"; do installed "$p" || missing+=("$p"); done
        ((${#missing[@]} == 0)) && return 0
        say "installing ${missing[*]}"
        apt_update
        retry 3 quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
    }

    # ---------------------------------------------------------------------------------------
    # 1. Installs.
    install_start=$(date +%s)
    rustc_env=() # (RUSTC=/usr/bin/rustc) with the Debian fallback
    if [[ "${GHOSTNET_NEON_TOOLCHAIN:-}" != debian ]] && rustup target list --installed 2>/dev/null | grep -x "$TARGET" >/dev/null; then
        say "rust target $TARGET: present (rustup)"
    elif [[ "${GHOSTNET_NEON_TOOLCHAIN:-}" != debian ]] && command -v rustup >/dev/null &&
        retry 3 timeout 300 rustup target add "$TARGET"; then
        say "rust target $TARGET: added with rustup"
    else
        say "rust target $TARGET: using Debian's rustc-web with libstd-rust-web-dev:arm64 (RUSTC=/usr/bin/rustc)"
        if ! dpkg --print-foreign-architectures | grep -x arm64 >/dev/null; then
            "${sudo[@]}" dpkg --add-architecture arm64
            apt_updated=0
        fi
        apt_install rustc-web libstd-rust-web-dev:arm64
        rustc_env=(RUSTC=/usr/bin/rustc)
    fi
    apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
    say "installs: $(elapsed "$install_start")"

    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    # LD_LIBRARY_PATH keeps the guest on the cross libc that matches the cross loader: once
    # libc6:arm64 is installed (the Debian fallback pulls it in), the loader would otherwise find
    # that other libc through the host's /etc/ld.so.cache, and the mismatched pair hangs in
    # pthread_create.
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $SYSROOT -E LD_LIBRARY_PATH=$SYSROOT/lib"
    qemu=(qemu-aarch64 -L "$SYSROOT" -E "LD_LIBRARY_PATH=$SYSROOT/lib")
    aarch64_cargo() { nice -n 10 env "${rustc_env[@]}" cargo "$@"; }
    aarch64_rustc=rustc
    ((${#rustc_env[@]})) && aarch64_rustc=${rustc_env[0]#RUSTC=}
    say "compiler for $TARGET: $aarch64_rustc, $("$aarch64_rustc" --version)"
    qemu-aarch64 --version | head -n 1

    # ---------------------------------------------------------------------------------------
    # 2. The runtime's kernel tests on aarch64, under qemu.
    t=$(date +%s)
    say "+ cargo test --target $TARGET -p ghostnet-runtime"
    # A failure here is reported at the end, after the networks ran too.
    kernel_tests=passed
    aarch64_cargo test --target "$TARGET" -p ghostnet-runtime || kernel_tests=FAILED
    say "kernel tests under qemu: $kernel_tests, $(elapsed "$t")"

    # The safety lints on the aarch64 build: the NEON code is invisible to x86 clippy.
    t=$(date +%s)
    safety_lints=passed
    if ((${#rustc_env[@]} == 0)) && cargo clippy --version >/dev/null 2>&1; then
        say "+ cargo clippy --target $TARGET -p ghostnet-runtime --all-targets -- -A clippy::all -D clippy::undocumented_unsafe_blocks -D clippy::missing_safety_doc"
        aarch64_cargo clippy --target "$TARGET" -p ghostnet-runtime --all-targets -- \
            -A clippy::all -D clippy::undocumented_unsafe_blocks -D clippy::missing_safety_doc || safety_lints=FAILED
    else
        safety_lints="skipped (no clippy for this toolchain)"
    fi
    say "aarch64 safety lints: $safety_lints, $(elapsed "$t")"

    # ---------------------------------------------------------------------------------------
    # 3. Compiled networks under qemu against ONNX Runtime.
    fixtures=${GHOSTNET_FIXTURES:-}
    if [[ -z "$fixtures" ]]; then
        d=$(dirname "$root")
        while :; do
            if [[ -d "$d/shared/fixtures" ]]; then fixtures=$d/shared/fixtures; break; fi
            [[ "$d" == / ]] && break
            d=$(dirname "$d")
        done
    fi
    models=$root/compiler/models
    # module name | model | input | ONNX Runtime output | classes | labels
    cases=("digits|$models/digits_ghostnet.onnx|$models/digits_ghostnet.test_x.bin|$models/digits_ghostnet.ort.bin|10|$models/digits_ghostnet.test_y.bin")
    if [[ -n "$fixtures" && -d "$fixtures" ]]; then
        # Every exported ImageNet fixture: both exporters, external weights, V2's DFC
        # attention (sigmoid gate, 1x5/5x1 depthwise, resize), V3's parallel branches.
        for stem in ghostnet_050_legacy ghostnet_050_extdata ghostnet_100_dynamo ghostnetv2_100_dynamo ghostnetv3_050_dynamo; do
            f=$fixtures/$stem
            if [[ -f $f.onnx && -f $f.input.bin && -f $f.ort.bin ]]; then
                cases+=("$stem|$f.onnx|$f.input.bin|$f.ort.bin|1000|")
            elif [[ -n "${CI:-}" ]]; then
                say "fixture $f.{onnx,input.bin,ort.bin} missing; CI is set, so this fails" >&2
                exit 1
            else
                say "notice: fixture $f.{onnx,input.bin,ort.bin} missing; skipping it"
            fi
        done
        # The digits GhostNet quantized by ONNX Runtime (QDQ): ghostc compiles it in int8.
        f=$fixtures/digits_ghostnet.qdq
        if [[ -f $f.onnx && -f $f.ort.bin ]]; then
            cases+=("digits_int8|$f.onnx|$models/digits_ghostnet.test_x.bin|$f.ort.bin|10|$models/digits_ghostnet.test_y.bin")
        elif [[ -n "${CI:-}" ]]; then
            say "fixture $f.{onnx,ort.bin} missing; CI is set, so this fails" >&2
            exit 1
        fi
    elif [[ -n "${CI:-}" ]]; then
        say "fixtures missing (looked in \$GHOSTNET_FIXTURES and shared/fixtures above $root); CI is set, so this fails" >&2
        exit 1
    else
        say "notice: fixtures missing (\$GHOSTNET_FIXTURES or shared/fixtures above $root); checking the digits network only"
    fi

    t=$(date +%s)
    say "+ cargo build -p ghostnet-compiler --bin ghostc"
    nice -n 10 cargo build -p ghostnet-compiler --bin ghostc
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    ghostc=$target_dir/debug/ghostc
    [[ -x "$ghostc" ]] || { say "ghostc not found at $ghostc" >&2; exit 1; }
    say "ghostc (host): $(elapsed "$t")"

    # The scratch crate: sources are rewritten only when they change, so reruns build nothing.
    t=$(date +%s)
    crate=$target_dir/neon-check
    mkdir -p "$crate/src" "$crate/gen"
    sync_file() { cmp -s "$1" "$2" || cp "$1" "$2"; }
    printf '%s\n' '[package]' 'name = "neon_check"' 'version = "0.0.0"' 'edition = "2021"' 'publish = false' '' \
        '[dependencies]' '' '[workspace]' >"$crate/gen/Cargo.toml"
    sync_file "$crate/gen/Cargo.toml" "$crate/Cargo.toml"
    modules=()
    for c in "${cases[@]}"; do
        IFS='|' read -r module model _ <<<"$c"
        say "+ ghostc $model -o $crate/gen/$module.rs"
        "$ghostc" "$model" -o "$crate/gen/$module.rs" >"$crate/gen/$module.log" || { cat "$crate/gen/$module.log"; exit 1; }
        tail -n 3 "$crate/gen/$module.log"
        sync_file "$crate/gen/$module.rs" "$crate/src/$module.rs"
        sync_file "$crate/gen/$module.weights.bin" "$crate/src/$module.weights.bin"
        modules+=("$module")
    done
    {
        cat "$root/.ci/steps/net_check.rs"
        echo
        echo "nets!($(IFS=,; echo "${modules[*]}" | sed 's/,/, /g'));"
    } >"$crate/gen/main.rs"
    sync_file "$crate/gen/main.rs" "$crate/src/main.rs"
    say "ghostc: $(elapsed "$t")"

    t=$(date +%s)
    say "+ (in $crate) RUSTFLAGS='-D warnings' cargo build --release --target $TARGET"
    (cd "$crate" && RUSTFLAGS="-D warnings" CARGO_TARGET_DIR="$crate/target" aarch64_cargo build --release --target "$TARGET")
    exe=$crate/target/$TARGET/release/neon_check
    say "cross-build of the generated code: $(elapsed "$t")"

    t=$(date +%s)
    passed=0
    failed=0
    for isa in neon neondot scalar; do
        for c in "${cases[@]}"; do
            IFS='|' read -r module _ input ort classes labels <<<"$c"
            # The dot-product tier differs from NEON in the 8-bit products only.
            [[ $isa == neondot && $module != *_int8 ]] && continue
            say "+ GHOSTNET_ISA=$isa ${qemu[*]} neon_check $module $(basename "$input") $(basename "$ort") $classes"
            # A hang (threads waiting on each other) fails after 10 minutes instead of
            # running into CI's limit.
            rc=0
            GHOSTNET_ISA=$isa timeout 600 "${qemu[@]}" "$exe" "$module" "$input" "$ort" "$classes" ${labels:+"$labels"} || rc=$?
            if ((rc == 0)); then
                passed=$((passed + 1))
            else
                failed=$((failed + 1))
                if ((rc == 124)); then
                    say "FAILED: $module on $isa: no result after 600 s (hung?)" >&2
                else
                    say "FAILED: $module on $isa" >&2
                fi
            fi
        done
    done
    # A tier this CPU cannot run must be a clear error, not a crash.
    IFS='|' read -r module _ input ort classes _ <<<"${cases[0]}"
    rc=0
    msg=$(GHOSTNET_ISA=avx2 "${qemu[@]}" "$exe" "$module" "$input" "$ort" "$classes" 2>&1) || rc=$?
    if ((rc == 2)) && grep -q "cannot run that tier" <<<"$msg"; then
        say "GHOSTNET_ISA=avx2 on aarch64 is refused: $msg"
        passed=$((passed + 1))
    else
        say "FAILED: GHOSTNET_ISA=avx2 on aarch64 gave status $rc: $msg" >&2
        failed=$((failed + 1))
    fi
    say "networks under qemu: $(elapsed "$t")"
    say "whole step: $(elapsed "$step_start") (installs included)"
    say "kernel tests (cargo test --target $TARGET -p ghostnet-runtime under qemu): $kernel_tests"
    say "aarch64 safety lints: $safety_lints"
    echo "neon networks: $passed passed, $failed failed"
    [[ $kernel_tests == passed && $safety_lints != FAILED ]] && ((failed == 0))
}

main "$@"
