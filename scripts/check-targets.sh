#!/usr/bin/env bash
# `npm run check:targets`: every platform path type-checks (clippy -D warnings) for the targets that
# cannot run here, and the Linux targets that can be built here are built for real.
set -euo pipefail
cd "$(dirname "$0")/.."
check=(x86_64-pc-windows-msvc aarch64-pc-windows-msvc x86_64-apple-darwin aarch64-apple-darwin)
build=(x86_64-unknown-linux-musl aarch64-unknown-linux-gnu)
rustup target add "${check[@]}" "${build[@]}" >/dev/null
for t in "${check[@]}"; do
  echo "== clippy --target $t"
  cargo clippy --workspace --all-targets --target "$t" -- -D warnings
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== napi build --target x86_64-unknown-linux-musl"
npx napi build --platform --release --target x86_64-unknown-linux-musl --output-dir "$out"
echo "== napi build --target aarch64-unknown-linux-gnu (napi-rs cross toolchain)"
npx napi build --platform --release --target aarch64-unknown-linux-gnu --use-napi-cross --output-dir "$out"
for f in mapshare.linux-x64-musl.node mapshare.linux-arm64-gnu.node; do
  test -s "$out/$f" || { echo "missing $f" >&2; exit 1; }
  echo "built $f ($(stat -c %s "$out/$f") bytes)"
done
echo "check:targets: all targets passed"
