#!/usr/bin/env bash
# CI step: the WebAssembly builds, under Node and in headless Chromium.
#
#  1. Installs what a fresh machine lacks: the Rust targets wasm32-wasip1 and
#     wasm32-unknown-unknown (rustup), Node from Debian's `nodejs` when `node` is missing,
#     Debian's `chromium`.
#  2. The runtime's tests (kernels and unit tests) built for wasm32-wasip1 with simd128 and
#     run under Node's WASI (.ci/steps/wasi_run.mjs, the runner in .cargo/config.toml): every
#     kernel on the simd128 tier against scalar (kernels.rs asserts that simd128 ran); the
#     kernel tests again with relaxed-simd (its fused multiply-add). Then clippy's safety
#     lints on that build, and the runtime built without simd128 (the scalar-only wasm32
#     form) with warnings as errors.
#  3. Compiled networks against ONNX Runtime's outputs (max |diff| <= 1e-4 * max |ort|, same
#     top-5 in every row): the digits GhostNet (397 test images) and GhostNet 0.5x (the
#     fixture ghostnet_050_legacy; and the fixture digits_ghostnet.qdq in int8, by the rule
#     for quantized networks of net_check.rs), in the std form for wasm32-wasip1 (.ci/steps/net_check.rs)
#     on the simd128 and scalar tiers (GHOSTNET_ISA=avx2 must be refused); the digits GhostNet
#     in the no_std form for wasm32-unknown-unknown (.ci/steps/wasm_nostd.rs) and in the
#     browser demo's std form (generated/web), both loaded by generated/web/ghostnet.js in
#     Node (.ci/steps/wasm_check.mjs).
#  4. The browser demo's self-test: generated/web served by a local static server, and
#     `chromium --headless --dump-dom` of `/?selftest`; the page must report every embedded
#     test digit and drawn digit classified right.
#
# Run from anywhere: `bash .ci/steps/wasm.sh`. Idempotent; installs are skipped when present.
# Fixtures: $GHOSTNET_FIXTURES, else shared/fixtures in the nearest folder above the
# repository; missing, GhostNet 0.5x is skipped with a notice, or fails under CI. Scratch
# crates live in <target dir>/wasm-check.
set -euo pipefail
main() {
    cd "$(dirname "$0")/../.."
    root=$PWD
    step_start=$(date +%s)

    say() { echo "wasm.sh: $*"; }
    elapsed() { echo "$(($(date +%s) - $1)) s"; }
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
    apt_install() {
        local missing=() p
        for p in "$@"; do installed "$p" || missing+=("$p"); done
        ((${#missing[@]} == 0)) && return 0
        say "installing ${missing[*]}"
        if ((!apt_updated)); then
            retry 3 quiet "${sudo[@]}" apt-get "${apt_opts[@]}" update
            apt_updated=1
        fi
        retry 3 quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
    }

    # ---------------------------------------------------------------------------------------
    # 1. Installs.
    t=$(date +%s)
    for target in wasm32-wasip1 wasm32-unknown-unknown; do
        if rustup target list --installed 2>/dev/null | grep -x "$target" >/dev/null; then
            say "rust target $target: present"
        else
            retry 3 timeout 300 rustup target add "$target"
        fi
    done
    command -v node >/dev/null || apt_install nodejs
    say "node $(node --version)"
    command -v chromium >/dev/null || apt_install chromium
    say "$(chromium --version 2>/dev/null | head -n 1)"
    say "installs: $(elapsed "$t")"

    failures=()
    check() {
        local what=$1
        shift
        if "$@"; then say "ok: $what"; else say "FAILED: $what" >&2; failures+=("$what"); fi
    }
    wasi=(node --no-warnings --no-concurrent-marking "$root/.ci/steps/wasi_run.mjs")

    # ---------------------------------------------------------------------------------------
    # 2. The runtime's tests on wasm32-wasip1 under Node.
    t=$(date +%s)
    say "+ cargo test --target wasm32-wasip1 -p ghostnet-runtime (simd128, under Node's WASI)"
    check "runtime tests on wasm32-wasip1 (simd128)" nice -n 10 cargo test --target wasm32-wasip1 -p ghostnet-runtime
    say "+ cargo test --target wasm32-wasip1 -p ghostnet-runtime --test kernels (simd128 with relaxed-simd's fused multiply-add)"
    check "kernel tests on wasm32-wasip1 (simd128 + relaxed-simd)" env CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" \
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/wasm-relaxed" nice -n 10 cargo test --target wasm32-wasip1 -p ghostnet-runtime --test kernels
    say "+ cargo clippy --target wasm32-wasip1 -p ghostnet-runtime --all-targets (safety lints)"
    check "safety lints on the wasm32 build" nice -n 10 cargo clippy -q --target wasm32-wasip1 -p ghostnet-runtime --all-targets -- \
        -A clippy::all -D clippy::undocumented_unsafe_blocks -D clippy::missing_safety_doc
    say "+ cargo build --target wasm32-unknown-unknown -p ghostnet-runtime without simd128 (scalar only, -D warnings)"
    check "scalar-only wasm32 build" env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-D warnings" \
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/wasm-scalar" nice -n 10 cargo build -q --target wasm32-unknown-unknown -p ghostnet-runtime
    say "runtime: $(elapsed "$t")"

    # ---------------------------------------------------------------------------------------
    # 3. Compiled networks.
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
    f=${fixtures:+$fixtures/ghostnet_050_legacy}
    if [[ -n "$f" && -f $f.onnx && -f $f.input.bin && -f $f.ort.bin ]]; then
        cases+=("ghostnet_050_legacy|$f.onnx|$f.input.bin|$f.ort.bin|1000|")
    elif [[ -n "${CI:-}" ]]; then
        say "fixture ghostnet_050_legacy.{onnx,input.bin,ort.bin} missing (\$GHOSTNET_FIXTURES or shared/fixtures above $root); CI is set, so this fails" >&2
        exit 1
    else
        say "notice: fixture ghostnet_050_legacy missing; checking the digits network only"
    fi
    # The digits GhostNet quantized by ONNX Runtime (QDQ), compiled in int8.
    f=${fixtures:+$fixtures/digits_ghostnet.qdq}
    if [[ -n "$f" && -f $f.onnx && -f $f.ort.bin ]]; then
        cases+=("digits_int8|$f.onnx|$models/digits_ghostnet.test_x.bin|$f.ort.bin|10|$models/digits_ghostnet.test_y.bin")
    elif [[ -n "${CI:-}" ]]; then
        say "fixture digits_ghostnet.qdq.{onnx,ort.bin} missing; CI is set, so this fails" >&2
        exit 1
    fi

    t=$(date +%s)
    nice -n 10 cargo build -q -p ghostnet-compiler --bin ghostc
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    ghostc=$target_dir/debug/ghostc
    work=$target_dir/wasm-check
    mkdir -p "$work"
    sync_file() { cmp -s "$1" "$2" || cp "$1" "$2"; }

    # The std form for wasm32-wasip1, run under Node's WASI.
    crate=$work/wasi
    mkdir -p "$crate/src" "$crate/gen"
    printf '%s\n' '[package]' 'name = "net_check"' 'version = "0.0.0"' 'edition = "2021"' 'publish = false' '' \
        '[dependencies]' '' '[workspace]' >"$crate/gen/Cargo.toml"
    sync_file "$crate/gen/Cargo.toml" "$crate/Cargo.toml"
    modules=()
    for c in "${cases[@]}"; do
        IFS='|' read -r module model _ <<<"$c"
        "$ghostc" "$model" -o "$crate/gen/$module.rs" >"$crate/gen/$module.log" || { cat "$crate/gen/$module.log"; exit 1; }
        sync_file "$crate/gen/$module.rs" "$crate/src/$module.rs"
        sync_file "$crate/gen/$module.weights.bin" "$crate/src/$module.weights.bin"
        modules+=("$module")
    done
    { cat "$root/.ci/steps/net_check.rs"; echo; echo "nets!($(IFS=,; echo "${modules[*]}" | sed 's/,/, /g'));"; } >"$crate/gen/main.rs"
    sync_file "$crate/gen/main.rs" "$crate/src/main.rs"
    say "+ (in $crate) cargo build --release --target wasm32-wasip1 (simd128, -D warnings)"
    (cd "$crate" && CARGO_TARGET_DIR="$crate/target" CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C target-feature=+simd128 -D warnings" \
        nice -n 10 cargo build -q --release --target wasm32-wasip1)
    exe=$crate/target/wasm32-wasip1/release/net_check.wasm

    # The no_std form for wasm32-unknown-unknown.
    nostd=$work/nostd
    mkdir -p "$nostd/src" "$nostd/gen"
    printf '%s\n' '[package]' 'name = "wasm_nostd"' 'version = "0.0.0"' 'edition = "2024"' 'publish = false' '' \
        '[lib]' 'crate-type = ["cdylib"]' '' '[dependencies]' '' '[workspace]' '' '[profile.release]' 'panic = "abort"' >"$nostd/gen/Cargo.toml"
    sync_file "$nostd/gen/Cargo.toml" "$nostd/Cargo.toml"
    sync_file "$root/.ci/steps/wasm_nostd.rs" "$nostd/src/lib.rs"
    "$ghostc" "$models/digits_ghostnet.onnx" --no-std -o "$nostd/gen/net.rs" >/dev/null
    sync_file "$nostd/gen/net.rs" "$nostd/src/net.rs"
    sync_file "$nostd/gen/net.weights.bin" "$nostd/src/net.weights.bin"
    say "+ (in $nostd) cargo build --release --target wasm32-unknown-unknown (no_std, simd128, -D warnings)"
    (cd "$nostd" && CARGO_TARGET_DIR="$nostd/target" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128 -D warnings" \
        nice -n 10 cargo build -q --release --target wasm32-unknown-unknown)

    # The browser demo's module (the golden digits module, std form, wasm32-unknown-unknown).
    say "+ bash generated/web/build.sh"
    nice -n 10 bash generated/web/build.sh >/dev/null
    say "builds of the compiled networks: $(elapsed "$t")"

    t=$(date +%s)
    for isa in simd128 scalar; do
        for c in "${cases[@]}"; do
            IFS='|' read -r module _ input ort classes labels <<<"$c"
            say "+ GHOSTNET_ISA=$isa node wasi_run.mjs net_check.wasm $module $(basename "$input") $(basename "$ort") $classes"
            check "$module, std form, wasm32-wasip1, $isa" env GHOSTNET_ISA=$isa "${wasi[@]}" "$exe" "$module" "$input" "$ort" "$classes" ${labels:+"$labels"}
        done
    done
    IFS='|' read -r module _ input ort classes _ <<<"${cases[0]}"
    rc=0
    msg=$(GHOSTNET_ISA=avx2 "${wasi[@]}" "$exe" "$module" "$input" "$ort" "$classes" 2>&1) || rc=$?
    if ((rc == 2)) && grep -q "cannot run that tier" <<<"$msg"; then
        say "ok: GHOSTNET_ISA=avx2 on wasm32 is refused: $msg"
    else
        say "FAILED: GHOSTNET_ISA=avx2 on wasm32 gave status $rc: $msg" >&2
        failures+=("GHOSTNET_ISA=avx2 refused")
    fi
    d=$models/digits_ghostnet
    check "digits, no_std form, wasm32-unknown-unknown" node "$root/.ci/steps/wasm_check.mjs" "$nostd/target/wasm32-unknown-unknown/release/wasm_nostd.wasm" \
        "$d.test_x.bin" "$d.ort.bin" 10 simd128 "$d.test_y.bin"
    check "digits, the browser demo's module (std form, wasm32-unknown-unknown)" node "$root/.ci/steps/wasm_check.mjs" "$root/generated/web/digits.wasm" \
        "$d.test_x.bin" "$d.ort.bin" 10 simd128 "$d.test_y.bin"
    say "networks under Node: $(elapsed "$t")"

    # ---------------------------------------------------------------------------------------
    # 4. The demo's self-test in headless Chromium.
    t=$(date +%s)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    profile=$(mktemp -d)
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$root/generated/web" >"$profile.server.log" 2>&1 &
    server=$!
    trap 'kill "$server" 2>/dev/null || true; rm -rf "$profile" "$profile.server.log" "$profile.chromium.log"' EXIT
    for _ in $(seq 50); do
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/index.html', timeout=1)" 2>/dev/null && break
        sleep 0.2
    done
    url="http://127.0.0.1:$port/?selftest"
    say "+ chromium --headless --dump-dom $url"
    dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$profile" --virtual-time-budget=15000 --dump-dom "$url" 2>"$profile.chromium.log") || true
    summary=$(grep -o '<p id="selftest-summary"[^<]*</p>' <<<"$dom" || true)
    passed=$(sed -n 's/.*data-passed="\([0-9]*\)".*/\1/p' <<<"$summary")
    total=$(sed -n 's/.*data-total="\([0-9]*\)".*/\1/p' <<<"$summary")
    rows=$(grep -o '<tr class="[a-z]*" data-label="[0-9]*" data-predicted="[0-9]*"' <<<"$dom" || true)
    right=$(grep -c 'class="pass" data-label="\([0-9]*\)" data-predicted="\1"' <<<"$rows" || true)
    if [[ -n "$summary" && -n "$total" && "$total" -gt 0 && "$passed" == "$total" && "$right" == "$total" ]]; then
        summary=${summary#*>}
        say "ok: browser self-test: ${summary%</p>}"
    else
        say "FAILED: browser self-test: ${summary:-no self-test result in the page}; rows classified right: ${right:-0} of ${total:-?}" >&2
        grep -o '<div id="status"[^<]*</div>' <<<"$dom" >&2 || true
        tail -n 20 "$profile.chromium.log" >&2 || true
        failures+=("browser self-test")
    fi
    say "browser self-test: $(elapsed "$t")"

    say "whole step: $(elapsed "$step_start") (installs included)"
    if ((${#failures[@]})); then
        say "failed: $(printf '%s; ' "${failures[@]}")" >&2
        return 1
    fi
    echo "wasm: all checks passed"
}

main "$@"
