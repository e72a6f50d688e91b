# Shared by miri.sh and asan.sh (sourced from the repository root): builds ghostc and writes
# the scratch crate that runs a compiled network (.ci/steps/ub_check.rs).
#   make_net_crate DIR IMAGES.bin|- ORT.bin|- CLASSES GHOSTC_ARGS...
# compiles the network GHOSTC_ARGS describe (an ONNX model, or DSL flags) with ghostc into
# DIR/src/net.rs, and embeds the first image of IMAGES.bin (raw f32) and ONNX Runtime's
# logits for it (the first CLASSES values of ORT.bin); `-` embeds nothing (a fixed
# pseudo-random image, no comparison).
make_net_crate() {
    local dir=$1 images=$2 ort=$3 classes=$4 ghostc n
    shift 4
    ghostc="${CARGO_TARGET_DIR:-$PWD/target}/debug/ghostc"
    rm -rf "$dir"
    mkdir -p "$dir/src"
    printf '[package]\nname = "ub_check"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n\n[workspace]\n' >"$dir/Cargo.toml"
    cp .ci/steps/ub_check.rs "$dir/src/main.rs"
    nice -n 19 cargo build -q -p ghostnet-compiler --bin ghostc
    "$ghostc" "$@" -o "$dir/src/net.rs" >/dev/null
    n=$(sed -n 's/^pub const INPUT_LEN: usize = \([0-9]*\);$/\1/p' "$dir/src/net.rs")
    : >"$dir/src/input.bin"
    : >"$dir/src/want.bin"
    if [ "$images" != - ]; then head -c $((4 * n)) "$images" >"$dir/src/input.bin"; fi
    if [ "$ort" != - ]; then head -c $((4 * classes)) "$ort" >"$dir/src/want.bin"; fi
}
