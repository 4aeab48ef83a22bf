// Finds the prebuilt binary for this platform and loads it (mapshare ships native binaries only;
// there is no WebAssembly fallback). Its errors say which of these went wrong: no binary exists for
// this platform, the platform's package is not installed (or has another version), or the binary is
// there but cannot be loaded (damaged, not mapshare's, or refused by the runtime, with the reason).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { damaged } from './binary-check.ts'
import { coded } from './errors.ts'

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

/**
 * The folder this module runs from: `__dirname` in the built CommonJS (dist/); loaded as an ES
 * module (the TypeScript source, as the tests load it), the file named by this function's own stack
 * frame (`at ownFolder (file:///.../loader.ts:LINE:COLUMN)`).
 */
function ownFolder(): string {
  if (typeof __dirname === 'string') return __dirname
  const limit = Error.stackTraceLimit
  const holder: { stack?: unknown } = {}
  try {
    Error.stackTraceLimit = 1
    Error.captureStackTrace(holder)
  } finally {
    Error.stackTraceLimit = limit
  }
  const stack = typeof holder.stack === 'string' ? holder.stack : ''
  const file = /\(?((?:file:\/\/|\/|[A-Za-z]:\\)[^()]*?):\d+:\d+\)?\s*$/m.exec(stack)?.[1]
  if (file === undefined) throw coded(Error, 'ERR_MAPSHARE_INTERNAL', 'mapshare could not find its own files')
  return path.dirname(file.startsWith('file:') ? fileURLToPath(file) : file)
}

/** The package's root (dist/ and src-js/ both sit one level below it). */
const ROOT = path.dirname(ownFolder())
const requireHere = createRequire(path.join(ROOT, 'package.json'))
const { version } = requireHere('./package.json') as { version: string }

/** An environment variable, or undefined where reading it is not allowed (Deno without `--allow-env`). */
function envVar(name: string): string | undefined {
  try {
    return process.env[name]
  } catch {
    return undefined
  }
}

function libc(): 'gnu' | 'musl' {
  // Deno says which C library it was built for, without reading a file (which needs --allow-read).
  const deno = (globalThis as { Deno?: { build?: { env?: string } } }).Deno?.build?.env
  if (deno === 'gnu' || deno === 'musl') return deno
  try {
    const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } }
    return report.header?.glibcVersionRuntime ? 'gnu' : 'musl'
  } catch {
    try {
      return fs.existsSync('/etc/alpine-release') ? 'musl' : 'gnu'
    } catch {
      return 'gnu'
    }
  }
}

/** This platform as the binaries are named: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ... */
export function platform(): string {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') return `${base}-${libc()}`
  if (process.platform === 'win32') return `${base}-msvc`
  return base
}

function loadFailed(what: string, reason: string, cause?: unknown): Error {
  return coded(
    Error,
    'ERR_MAPSHARE_BINARY_LOAD_FAILED',
    `mapshare's binary for ${platform()} is installed (${what}) but could not be loaded: ${reason}. ` +
      `A damaged file (reinstall mapshare), a missing system library or too old a C library (glibc 2.17 ` +
      `is the floor), or a runtime that does not allow native addons (Deno needs --allow-ffi) are the ` +
      `usual causes.`,
    cause,
  )
}

/** Loads the addon at `file` once it has checked that it is a whole library of this platform. */
function load(file: string, what: string): unknown {
  let bytes: Uint8Array
  try {
    if (!fs.statSync(file).isFile()) throw loadFailed(what, `${file} is not a file`)
    bytes = fs.readFileSync(file)
  } catch (cause) {
    if (cause instanceof Error && 'code' in cause && cause.code === 'ERR_MAPSHARE_BINARY_LOAD_FAILED')
      throw cause
    throw loadFailed(
      what,
      `${file} cannot be read (${cause instanceof Error ? cause.message : 'unknown error'})`,
      cause,
    )
  }
  const why = damaged(bytes, process.platform)
  if (why !== null) throw loadFailed(what, `${file} is ${why}`)
  let exports: unknown
  try {
    // Through require: it loads a file once per thread and hands the same exports to every caller.
    exports = path.extname(file) === '.node' ? requireHere(file) : loadByDlopen(file)
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : 'unknown error'
    throw loadFailed(what, message.split('\n')[0] ?? message, cause)
  }
  // Another Node addon loads as well: it must be mapshare's (of this version's shape).
  const e = exports as { MmapFile?: unknown; _threadId?: unknown } | null
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.MmapFile !== 'function' ||
    typeof e._threadId !== 'function'
  )
    throw loadFailed(what, `${file} is a Node addon, but not mapshare's`)
  return exports
}

/** A library whose name does not end in `.node` (require would read it as JavaScript). */
function loadByDlopen(file: string): unknown {
  const module = { exports: {} as unknown }
  process.dlopen(module, file)
  return module.exports
}

/** The raw addon for this platform (see native.ts, the only module that uses it). */
export function loadBinding(): unknown {
  const target = platform()
  const override = envVar('MAPSHARE_BINARY_PATH')
  if (override) return load(path.resolve(override), `MAPSHARE_BINARY_PATH=${override}`)
  const local = path.join(ROOT, `mapshare.${target}.node`)
  if (fs.existsSync(local)) return load(local, `${local}, built in this checkout`)
  if (!TARGETS.includes(target)) {
    throw coded(
      Error,
      'ERR_MAPSHARE_NO_BINARY',
      `mapshare has no prebuilt binary for this platform (${target}, Node ${process.version}). ` +
        `Prebuilt packages exist for ${TARGETS.join(', ')}; elsewhere build from source with Rust installed: ` +
        `npm run build in the mapshare checkout.`,
    )
  }
  const pkg = `mapshare-${target}`
  let manifest: string
  try {
    manifest = requireHere.resolve(`${pkg}/package.json`)
  } catch (cause) {
    throw coded(
      Error,
      'ERR_MAPSHARE_NO_BINARY',
      `mapshare has no prebuilt binary for this platform (${target}, Node ${process.version}) installed: ` +
        `npm installs it as the optional dependency ${pkg}. Reinstall without --no-optional / --omit=optional ` +
        `(remove node_modules and package-lock.json if npm skipped it), or build from source with Rust ` +
        `installed: npm run build in the mapshare checkout. A local build installed with npm pack needs its ` +
        `platform package too: npm run pack:local in the checkout packs both and prints the npm install command.`,
      cause,
    )
  }
  const found = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: unknown }).version
  if (found !== version) {
    throw coded(
      Error,
      'ERR_MAPSHARE_BINARY_VERSION',
      `mapshare ${version} found ${pkg} ${String(found)}: the binary must come from the same version. ` +
        `Reinstall mapshare (npm install mapshare@${version}) so that npm installs ${pkg}@${version}.`,
    )
  }
  return load(path.join(path.dirname(manifest), `mapshare.${target}.node`), `${pkg}@${String(found)}`)
}
