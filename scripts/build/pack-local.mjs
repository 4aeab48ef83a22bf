// `npm run pack:local [-- --out DIR] [--json]`: packs this checkout's build for another project on this
// machine: the main package and this platform's package with the binary built here (`npm pack` of
// the root alone has no binary: it lives in the platform package). Prints the npm install command.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const args = process.argv.slice(2)
const json = args.includes('--json')
const outAt = args.indexOf('--out')
const out = path.resolve(outAt >= 0 ? args[outAt + 1] : path.join(root, 'local-pack'))

function fail(message) {
  console.error(`pack:local: ${message}`)
  process.exit(1)
}

const distLoader = path.join(root, 'dist', 'loader.js')
if (!fs.existsSync(distLoader)) fail('dist/ is not built: run npm run build first')
const target = createRequire(import.meta.url)(distLoader).platform()
const binary = path.join(root, `mapshare.${target}.node`)
if (!fs.existsSync(binary)) fail(`no binary for ${target} in this checkout: run npm run build first`)
if (!fs.existsSync(path.join(root, 'npm', target)))
  fail(`no platform package npm/${target} for this platform`)

/** `npm pack` of `dir` into `out` (quietly, without scripts: dist/ is built already); the tarball's path. */
function pack(dir) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const name = execFileSync(npm, ['pack', '--loglevel=warn', '--ignore-scripts', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
  })
  return path.join(out, name.trim().split('\n').pop())
}

fs.mkdirSync(out, { recursive: true })
const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-pack-local-'))
try {
  fs.cpSync(path.join(root, 'npm', target), staging, { recursive: true })
  fs.copyFileSync(binary, path.join(staging, path.basename(binary)))
  const platformTgz = pack(staging)
  const mainTgz = pack(root)
  if (json) console.log(JSON.stringify({ target, main: mainTgz, platform: platformTgz }))
  else console.log(`Packed for ${target}. In the other project:\n  npm install ${mainTgz} ${platformTgz}`)
} finally {
  fs.rmSync(staging, { recursive: true, force: true })
}
