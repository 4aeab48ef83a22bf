#!/usr/bin/env bash
# `npm run check:release`: the publish job of .github/workflows/CI.yml, as far as it can run here,
# on a copy of this checkout: the host's binary laid out as the build job uploads it, `napi artifacts`,
# `napi prepublish` (it adds the optionalDependencies; publishing the platform packages is skipped),
# `npm pack` of the root and the host's platform package, and an install of both tarballs into a new
# project, which must load the binary from the platform package and work. Catches a release that
# cannot be installed before it is published.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=$(node -p "process.platform + '-' + process.arch + (process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : '')")
triple=$(rustc -vV | sed -n 's/^host: //p')
version=$(node -p "require('./package.json').version")

echo "== a copy of the tracked files"
mkdir "$work/repo"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/repo"
ln -s "$root/node_modules" "$work/repo/node_modules"
# napi prepublish reads the git state (tags): the copy is its own repository.
(cd "$work/repo" && git init -q && git add -A && git -c user.name=check -c user.email=check@localhost commit -qm snapshot)

echo "== build (release) for $triple, as the build job uploads it"
mkdir -p "$work/repo/artifacts/bindings-$triple"
npx napi build --platform --release --no-js --output-dir "$work/repo/artifacts/bindings-$triple" >/dev/null
# (Not checked against glibc 2.17 here: this build links the machine's glibc; the workflow's build
# job uses napi-rs's cross toolchain and checks, and npm run test:arm64 does so for arm64 here.)

# The other targets are built by the workflow on their own runners (macOS, Windows) or with
# toolchains this machine lacks: a placeholder file stands in for each, so that `napi artifacts`
# (which wants all of them) runs; only the host's package is installed and loaded below.
node -e "
  const fs = require('fs'), path = require('path')
  const abi = { 'x86_64-unknown-linux-gnu': 'linux-x64-gnu', 'x86_64-unknown-linux-musl': 'linux-x64-musl',
    'aarch64-unknown-linux-gnu': 'linux-arm64-gnu', 'aarch64-unknown-linux-musl': 'linux-arm64-musl',
    'x86_64-apple-darwin': 'darwin-x64', 'aarch64-apple-darwin': 'darwin-arm64',
    'x86_64-pc-windows-msvc': 'win32-x64-msvc', 'aarch64-pc-windows-msvc': 'win32-arm64-msvc' }
  for (const t of require('./package.json').napi.targets) {
    if (t === '$triple') continue
    const dir = path.join('$work/repo/artifacts', 'bindings-' + t)
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'mapshare.' + abi[t] + '.node'), 'placeholder: built by the release workflow\n')
  }
"
cd "$work/repo"
echo "== napi artifacts; napi prepublish -t npm --skip-optional-publish"
npx napi artifacts -d artifacts >/dev/null
# It must leave the loader and the other sources as they are.
git diff --exit-code --stat -- . ':!npm' || { echo "napi artifacts changed tracked files"; exit 1; }
npx napi prepublish -t npm --skip-optional-publish >/dev/null
node -e "
  const p = require('./package.json')
  const want = require('./package.json').napi.targets.length
  const opt = Object.keys(p.optionalDependencies || {})
  if (opt.length !== want) throw new Error('prepublish added ' + opt.length + ' optionalDependencies, expected ' + want)
  for (const [name, v] of Object.entries(p.optionalDependencies)) if (v !== p.version) throw new Error(name + '@' + v)
  console.log('optionalDependencies: ' + opt.length + ' platform packages at ' + p.version)
"
test -f "npm/$target/mapshare.$target.node" || { echo "napi artifacts did not put the binary in npm/$target"; exit 1; }

echo "== npm pack (root, $target)"
npm pack --pack-destination "$work" >/dev/null
(cd "npm/$target" && npm pack --pack-destination "$work" >/dev/null)
tar tzf "$work/mapshare-$version.tgz" | sort >"$work/root-files.txt"
for f in package/dist/index.js package/dist/index.d.ts package/dist/fast-path.js package/dist/layout.js package/dist/channel.js package/dist/binding/generated.d.ts package/include/mapshare_channel.h package/package.json; do
  grep -qx "$f" "$work/root-files.txt" || { echo "the root tarball lacks $f"; exit 1; }
done
if grep -q '\.node$' "$work/root-files.txt"; then echo "the root tarball carries a binary"; exit 1; fi

echo "== install both tarballs into a new project"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
# The other platforms' packages are not published: npm may only skip them (optional).
npm install --no-audit --no-fund "$work/mapshare-$target-$version.tgz" "$work/mapshare-$version.tgz" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "npm install of the packed tarballs failed"; exit 1; }
cat >check.mjs <<'JS'
import { MmapFile, SharedMemory } from 'mapshare'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node'))
if (!loaded || !loaded.includes('node_modules/mapshare-')) throw new Error(`binary not from the platform package: ${loaded}`)
const r = MmapFile.anonymous(4096, { shared: true })
for (let i = 0; i < 20; i++) r.add(0, 1)
const s = SharedMemory.anonymous(4096)
s.write('packed')
console.log(`loaded ${loaded.split('node_modules/')[1]}; add x20 = ${r.load(0)}; ${s.read(0, 6)}`)
r.close()
s.close()
JS
env -u MAPSHARE_BINARY_PATH node check.mjs
echo "check:release: passed"
