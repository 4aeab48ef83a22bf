#!/usr/bin/env bash
# `npm run test:loaded [-- runs]`: the whole test command (`npm test`) N times in a row (10 by
# default) while every CPU is kept busy by another process, to show the suite does not fail by
# timing on a loaded machine. Stops at the first failure; prints each run's time and the total.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-10}"
cpus="$(nproc)"
# The load: one spinning process per CPU, at normal priority, killed on exit.
burners=()
for _ in $(seq "$cpus"); do
  node -e 'for (;;) {}' &
  burners+=("$!")
done
trap 'kill "${burners[@]}" 2>/dev/null || true' EXIT
echo "== $runs runs of npm test, $cpus CPUs kept busy by ${#burners[@]} spinning processes"
start=$SECONDS
for i in $(seq "$runs"); do
  t0=$SECONDS
  if ! npm test > "/tmp/mapshare-loaded-$i.log" 2>&1; then
    echo "== run $i FAILED after $((SECONDS - t0)) s: /tmp/mapshare-loaded-$i.log"
    grep -E "✘|failed|Error" "/tmp/mapshare-loaded-$i.log" | head -20 || true
    exit 1
  fi
  echo "== run $i passed in $((SECONDS - t0)) s"
done
echo "== all $runs runs passed in $((SECONDS - start)) s"
