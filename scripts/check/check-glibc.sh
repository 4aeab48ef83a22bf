#!/usr/bin/env bash
# Checks Linux glibc binaries against the glibc the release promises (2.17, napi-rs's sysroot):
# fails on a symbol version newer than that, and on a strong undefined symbol with no version
# (a libc function the sysroot lacks links that way, and the addon then dies at its first call).
# Usage: scripts/check/check-glibc.sh FILE.node...
set -euo pipefail
floor_minor=17
status=0
for f in "$@"; do
  dump=$(objdump -T "$f")
  newer=$(grep -oE 'GLIBC_2\.[0-9]+' <<<"$dump" | sort -u | awk -F. -v max="$floor_minor" '$2 > max') || true
  # Undefined (*UND*), not weak (w), and no version in parentheses.
  unversioned=$(awk '$0 ~ /\*UND\*/ && $2 != "w" && $0 !~ /\(/ { print $NF }' <<<"$dump" | sort -u) || true
  if [ -n "$newer" ] || [ -n "$unversioned" ]; then
    echo "$f: needs more than glibc 2.$floor_minor:" >&2
    [ -n "$newer" ] && echo "  versions: $(tr '\n' ' ' <<<"$newer")" >&2
    [ -n "$unversioned" ] && echo "  unversioned symbols: $(tr '\n' ' ' <<<"$unversioned")" >&2
    status=1
  else
    echo "$f: glibc 2.$floor_minor is enough ($(grep -oE 'GLIBC_2\.[0-9]+' <<<"$dump" | sort -V -u | tail -1))"
  fi
done
exit $status
