#!/usr/bin/env bash
# Builds the demo's WebAssembly module: the digits GhostNet (generated/digits/net.rs) with the
# exports of src/lib.rs, for wasm32-unknown-unknown with simd128 (the repository's
# .cargo/config.toml), copied to generated/web/digits.wasm beside index.html. Then serve the
# folder with any static server, e.g. `python3 -m http.server -d generated/web 8000`.
# Needs `rustup target add wasm32-unknown-unknown`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --manifest-path generated/web/Cargo.toml --target wasm32-unknown-unknown --target-dir "$target_dir"
cp "$target_dir/wasm32-unknown-unknown/release/ghostnet_web.wasm" "$here/digits.wasm"
echo "wrote $here/digits.wasm ($(wc -c <"$here/digits.wasm") bytes)"
