#!/usr/bin/env bash
# `npm run check:mutants [-- files...]`: mutation testing of the core (cargo-mutants from crates.io):
# each mutant of the given files (default: the lock, its robust list and the grouped waits) is built
# and run against the core's own tests; the summary says how many the tests caught. Not in .ci/run
# (minutes per file). Results in target/mutants.out (missed.txt lists what no test noticed).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v cargo-mutants > /dev/null || cargo install cargo-mutants --locked
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(crates/core/src/robust.rs crates/core/src/mutex.rs crates/core/src/word_waits.rs)
args=()
for f in "${files[@]}"; do args+=(-f "$f"); done
cargo mutants -p mapshare-core "${args[@]}" --timeout 60 --output target
