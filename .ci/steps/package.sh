#!/usr/bin/env bash
# The four published crates packaged together (so that their unpublished path dependencies
# resolve among them) and each built from its package alone, as crates.io would.
set -euo pipefail
cd "$(dirname "$0")/../.."
# A target folder of its own, emptied first: cargo takes an already built package of the
# same version for unchanged (registry crates never change), so it would test stale ones.
export CARGO_TARGET_DIR="$PWD/target/package-check"
rm -rf "$CARGO_TARGET_DIR"
log=$(mktemp)
status=0
nice -n 10 cargo package --allow-dirty -p ghostnet-runtime -p ghostnet-compiler -p ghostnet-macros -p ghostnet-build >"$log" 2>&1 || status=$?
# Expected: tests and examples stay out of the packages; no documentation address yet.
grep -Ev '^warning: (ignoring (test|example|benchmark) |manifest has no documentation)|^  (\||= note)' "$log" || true
rm -f "$log"
[ "$status" -eq 0 ] || { echo "package.sh: cargo package failed" >&2; exit "$status"; }
for crate in "$CARGO_TARGET_DIR"/package/ghostnet-{runtime,compiler,macros,build}-0*.crate; do
    echo "$(basename "$crate"): $(stat -c %s "$crate") bytes"
done
rm -rf "$CARGO_TARGET_DIR"
