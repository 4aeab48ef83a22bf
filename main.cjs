// The package entry and loader: finds the prebuilt binary for this platform and loads it (mapshare
// ships native binaries only; there is no WebAssembly fallback). Its errors say which of three things went wrong: no binary
// exists for this platform, the platform's package is not installed (or has another version), or the
// binary is there but the runtime could not load it (with the runtime's own reason).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { version } = require('./package.json')

const TARGETS = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
  'win32-arm64-msvc',
]

function libc() {
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'
  } catch {
    return fs.existsSync('/etc/alpine-release') ? 'musl' : 'gnu'
  }
}

function platform() {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') return `${base}-${libc()}`
  if (process.platform === 'win32') return `${base}-msvc`
  return base
}

function fail(code, message, cause) {
  const error = new Error(message, cause ? { cause } : undefined)
  error.code = code
  return error
}

function load(file, what) {
  try {
    return require(file)
  } catch (cause) {
    const reason = String((cause && cause.message) || cause).split('\n')[0]
    throw fail(
      'ERR_MAPSHARE_BINARY_LOAD_FAILED',
      `mapshare's binary for ${platform()} is installed (${what}) but could not be loaded: ${reason}. ` +
        `A missing system library or too old a C library (glibc 2.17 is the floor), a damaged file, or a ` +
        `runtime that does not allow native addons (Deno needs --allow-ffi) are the usual causes.`,
      cause,
    )
  }
}

function requireBinding() {
  const target = platform()
  const override = process.env.MAPSHARE_BINARY_PATH
  if (override) return load(path.resolve(override), `MAPSHARE_BINARY_PATH=${override}`)
  const local = path.join(__dirname, `mapshare.${target}.node`)
  if (fs.existsSync(local)) return load(local, `${local}, built in this checkout`)
  if (!TARGETS.includes(target)) {
    throw fail(
      'ERR_MAPSHARE_NO_BINARY',
      `mapshare has no prebuilt binary for this platform (${target}, Node ${process.version}). ` +
        `Prebuilt packages exist for ${TARGETS.join(', ')}; elsewhere build from source with Rust installed: ` +
        `npm run build in the mapshare checkout.`,
    )
  }
  const pkg = `mapshare-${target}`
  let manifest
  try {
    manifest = require.resolve(`${pkg}/package.json`)
  } catch (cause) {
    throw fail(
      'ERR_MAPSHARE_NO_BINARY',
      `mapshare has no prebuilt binary for this platform (${target}, Node ${process.version}) installed: ` +
        `npm installs it as the optional dependency ${pkg}. Reinstall without --no-optional / --omit=optional ` +
        `(remove node_modules and package-lock.json if npm skipped it), or build from source with Rust ` +
        `installed: npm run build in the mapshare checkout.`,
      cause,
    )
  }
  const found = JSON.parse(fs.readFileSync(manifest, 'utf8')).version
  if (found !== version) {
    throw fail(
      'ERR_MAPSHARE_BINARY_VERSION',
      `mapshare ${version} found ${pkg} ${found}: the binary must come from the same version. ` +
        `Reinstall mapshare (npm install mapshare@${version}) so that npm installs ${pkg}@${version}.`,
    )
  }
  return load(path.join(path.dirname(manifest), `mapshare.${target}.node`), `${pkg}@${found}`)
}

const binding = requireBinding()
// Bun and Deno export stand-ins for some of libuv's functions: waitAsync must not poll with them
// (it uses threads there instead).
if (process.versions.bun !== undefined || process.versions.deno !== undefined) binding._uvRefused()

// A method called on the wrong receiver throws Node's ERR_INVALID_THIS (V8's own check says only
// "Illegal invocation", without a code).
function invalidThis(Class) {
  const error = new TypeError(`Value of "this" must be of type ${Class.name}`)
  error.code = 'ERR_INVALID_THIS'
  return error
}

// Atomics, small copies and the uncontended lock without a native call where that is exact (these
// wrappers check their receiver themselves).
const fastPath = require('./fast-path.cjs')
for (const Class of [binding.MmapFile, binding.SharedMemory, binding.ShmSegment])
  fastPath.installRegion(Class, binding, invalidThis)
fastPath.installMutex(binding.Mutex, binding._threadId, invalidThis)

for (const Class of [binding.MmapFile, binding.SharedMemory, binding.ShmSegment, binding.Mutex]) {
  for (const key of Reflect.ownKeys(Class.prototype)) {
    if (key === 'constructor') continue
    const d = Object.getOwnPropertyDescriptor(Class.prototype, key)
    if (typeof d.value === 'function' && d.value[fastPath.kChecked]) continue
    const guard = (fn) =>
      function (...args) {
        if (!(this instanceof Class)) throw invalidThis(Class)
        return Reflect.apply(fn, this, args)
      }
    if (typeof d.value === 'function') {
      const fn = d.value
      const guarded = guard(fn)
      Object.defineProperty(guarded, 'name', { value: fn.name })
      Object.defineProperty(Class.prototype, key, { ...d, value: guarded })
    } else if (d.get) {
      Object.defineProperty(Class.prototype, key, { ...d, get: guard(d.get), set: d.set && guard(d.set) })
    }
  }
}

// util.inspect(region) shows what the region is, not `MmapFile {}`.
const inspect = Symbol.for('nodejs.util.inspect.custom')
for (const [Class, keys] of [
  [binding.MmapFile, ['path', 'length', 'closed']],
  [binding.SharedMemory, ['name', 'fd', 'length', 'closed']],
  [binding.ShmSegment, ['id', 'length', 'closed']],
]) {
  Object.defineProperty(Class.prototype, inspect, {
    value(depth, options, inspectFn) {
      const shown = {}
      for (const key of keys) {
        try {
          shown[key] = this[key]
        } catch {} // a getter of a closed region
      }
      return `${Class.name} ${inspectFn ? inspectFn(shown, options) : JSON.stringify(shown)}`
    },
  })
}

// Exactly what index.d.ts declares, each listed so that `import { MmapFile } from 'mapshare'` works
// from ES modules.
const layout = require('./layout.cjs')
module.exports.struct = layout.struct
module.exports.c = layout.c
module.exports.Channel = require('./channel.cjs').Channel
module.exports.MmapFile = binding.MmapFile
module.exports.Mutex = binding.Mutex
module.exports.SharedMemory = binding.SharedMemory
module.exports.ShmSegment = binding.ShmSegment
module.exports.ftok = binding.ftok
module.exports.pageSize = binding.pageSize
module.exports.allocationGranularity = binding.allocationGranularity
