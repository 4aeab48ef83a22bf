#!/usr/bin/env bash
# `npm run test:core`: the core crate's tests on glibc and on musl (x86_64-unknown-linux-musl runs
# natively here). musl's memcpy breaks on overlapping ranges where glibc's happens not to, so both
# C libraries run the copy tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== cargo test (host)"
cargo test -p mapshare-core --lib --tests
echo "== cargo test (the binding's own unit tests)"
cargo test -p mapshare --lib
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
  rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
  echo "== cargo test --target x86_64-unknown-linux-musl"
  cargo test -p mapshare-core --lib --tests --target x86_64-unknown-linux-musl
fi
