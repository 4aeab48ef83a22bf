// The package as a user installs it: `npm pack` of mapshare and of the linux-x64-gnu platform
// package, installed into a fresh project whose PATH has node and npm but no cargo, rustc, cc or gcc.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from './helpers/spawn.ts'

const npmCli = (() => {
  const r = spawnSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' })
  return r.stdout.trim()
})()
const target = 'linux-x64-gnu'

/** A PATH with only node (and npm through node): no compilers, no Rust. */
function bareBin(dir: string): string {
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin)
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  return bin
}

function npm(cwd: string, bin: string, args: string[]) {
  const r = spawnSync(process.execPath, [npmCli, ...args, '--no-audit', '--no-fund'], {
    cwd,
    env: { PATH: bin, HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache },
    encoding: 'utf8',
    timeout: 120_000,
  })
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

function pack(dir: string, dest: string): string {
  // --loglevel=warn: the tarball's listing (npm notice) would fill the test output.
  // --ignore-scripts: `prepack` rebuilds dist/, which the other test files running meanwhile load;
  // the test command built it from these sources just before.
  const out = execFileSync(
    process.execPath,
    [npmCli, 'pack', '--loglevel=warn', '--ignore-scripts', '--pack-destination', dest],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  )
  return path.join(dest, out.trim().split('\n').pop()!)
}

test('npm pack + install without a compiler: require, import, tsc and a cross-process round trip', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-pack-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const bin = bareBin(work)
  for (const tool of ['cargo', 'rustc', 'cc', 'gcc']) {
    t.false(fs.existsSync(path.join(bin, tool)), `${tool} must not be on the consumer's PATH`)
  }

  // npm run pack:local: the main package and the platform package with the binary this checkout built.
  const packed = execFileSync(
    process.execPath,
    [path.join(ROOT, 'scripts/build/pack-local.mjs'), '--out', work, '--json'],
    {
      encoding: 'utf8',
    },
  )
  const {
    target: packedFor,
    main: mainTgz,
    platform: platformTgz,
  } = JSON.parse(packed) as Record<string, string>
  t.is(packedFor, target)
  const listed = execFileSync('tar', ['-tzf', mainTgz], { encoding: 'utf8' })
  t.false(listed.includes('.node'), 'the main package carries no binary')
  t.regex(listed, /package\/dist\/index\.js/)
  t.regex(listed, /package\/dist\/binding\/generated\.d\.ts/)
  // Every shipped .js is built from src-js/: one for each TypeScript source, nothing hand-written.
  const shippedJs = listed
    .split('\n')
    .filter((f) => /\.(c|m)?js$/.test(f))
    .map((f) => f.replace(/^package\//, ''))
  const sources = fs
    .readdirSync(path.join(ROOT, 'src-js'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `dist/${f.replace(/\.ts$/, '.js')}`)
  t.deepEqual(shippedJs.sort(), sources.sort())

  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      private: true,
      dependencies: {
        mapshare: `file:${mainTgz}`,
        [`mapshare-${target}`]: `file:${platformTgz}`,
        '@types/node': '^20.19',
      },
    }),
  )
  npm(app, bin, ['install'])
  t.true(fs.existsSync(path.join(app, 'node_modules', `mapshare-${target}`, `mapshare.${target}.node`)))

  fs.writeFileSync(
    path.join(app, 'writer.cjs'),
    `const { MmapFile } = require('mapshare')
const r = MmapFile.open(process.argv[2], { flags: 'w+', size: 4096 })
r.buffer.write('installed and shared')
r.close()`,
  )
  fs.writeFileSync(
    path.join(app, 'reader.mjs'),
    `import { MmapFile, SharedMemory, ShmSegment, ftok, pageSize } from 'mapshare'
if (typeof SharedMemory.create !== 'function' || typeof ShmSegment.create !== 'function' || typeof ftok !== 'function' || !(pageSize > 0)) throw new Error('missing exports')
const r = MmapFile.open(process.argv[2])
console.log(r.read(0, 20).toString())`,
  )
  const shared = path.join(work, 'shared.bin')
  const env = { PATH: bin }
  const w = spawnSync('node', ['writer.cjs', shared], { cwd: app, env, encoding: 'utf8' })
  t.is(w.status, 0, w.stderr)
  const r = spawnSync('node', ['reader.mjs', shared], { cwd: app, env, encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), 'installed and shared')
  // The command-line tool, as npx runs it from the installed package.
  const ls = spawnSync(path.join(app, 'node_modules', '.bin', 'mapshare'), ['ls', '--json'], {
    cwd: app,
    env,
    encoding: 'utf8',
  })
  t.is(ls.status, process.platform === 'linux' ? 0 : 1, ls.stderr)
  if (process.platform === 'linux') t.true(Array.isArray(JSON.parse(ls.stdout)))

  fs.writeFileSync(
    path.join(app, 'check.ts'),
    `import { Channel, MmapFile, SharedMemory, ShmSegment, c, ftok, pageSize, struct, type OpenOptions, type SegmentStat } from 'mapshare'
const opts: OpenOptions = { flags: 'r+', offset: pageSize }
const region: MmapFile = MmapFile.open('x', opts)
const n: number = region.write('text', 0)
const shm: SharedMemory = SharedMemory.anonymous(n)
const fd: number | null = shm.fd
const seg = ShmSegment.create('private', 4096)
const st: SegmentStat = seg.stat()
const when: Date | null = st.atime
const key: number = ftok('/', 1)
// What users write: using, fresh copies typed Buffer<ArrayBuffer> (a Blob takes them), struct values.
function scoped(): number {
  using anon = MmapFile.anonymous(4096, { shared: true })
  using held = anon.mutex(8).lock()
  const copy: Buffer<ArrayBuffer> = anon.read(0, 4)
  const blob = new Blob([copy])
  const S = struct('s', { xs: c.array(c.i32, 3), inner: struct('inner', { a: c.u8, b: c.f64 }) })
  S.write(anon, { xs: [1, 2, 3], inner: { a: 1 } }, 64)
  const xs: Int32Array = S.at(anon, 64).xs
  const ch = Channel.create(anon, { byteOffset: 1024 })
  const m: Buffer<ArrayBuffer> | null = ch.tryReceive()
  return blob.size + xs[0] + (m?.length ?? 0) + Number(held.ownerDied)
}
export { fd, when, key, scoped }`,
  )
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        skipLibCheck: false,
        lib: ['es2022', 'esnext.disposable'],
        types: [],
      },
      files: ['check.ts'],
    }),
  )
  // index.d.ts mentions Buffer: the app has Node's types, as a TypeScript app would (see dependencies).
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    fs.readFileSync(path.join(app, 'tsconfig.json'), 'utf8').replace('"types":[]', '"types":["node"]'),
  )
  const tsc = spawnSync('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], {
    cwd: app,
    env,
    encoding: 'utf8',
  })
  t.is(tsc.status, 0, tsc.stdout + tsc.stderr)
})

test('without a fitting platform package, require says which platform and what to do', (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-nobin-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const bin = bareBin(work)
  const mainTgz = pack(ROOT, work)
  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, dependencies: { mapshare: `file:${mainTgz}` } }),
  )
  npm(app, bin, ['install', '--omit=optional'])
  const r = spawnSync(
    'node',
    ['-e', "try { require('mapshare') } catch (e) { console.log(e.code + ' ' + e.message) }"],
    {
      cwd: app,
      env: { PATH: bin },
      encoding: 'utf8',
    },
  )
  t.regex(
    r.stdout,
    /^ERR_MAPSHARE_NO_BINARY mapshare has no prebuilt binary for this platform \(linux-x64-gnu/,
  )
  t.regex(r.stdout, /optional dependency mapshare-linux-x64-gnu/)
  t.regex(r.stdout, /npm run pack:local in the checkout packs both/)
})

test('the built package exports every value src-js/index.ts exports, to require and to ES module imports', (t) => {
  const source = fs.readFileSync(path.join(ROOT, 'src-js', 'index.ts'), 'utf8')
  const declared = [...source.matchAll(/^export \{([^}]*)\} from/gm)].flatMap((m) =>
    m[1]!.split(',').map((n) => n.trim()),
  )
  t.true(declared.length >= 10, declared.join(' '))
  const entry = path.join(ROOT, 'dist', 'index.js')
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import * as m from ${JSON.stringify(pathToFileURL(entry).href)}; import { createRequire } from 'node:module'; ` +
        `const c = createRequire(import.meta.url)(${JSON.stringify(entry)}); ` +
        `console.log(JSON.stringify([Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule'), Object.keys(c).filter((k) => k !== '__esModule')]))`,
    ],
    { encoding: 'utf8' },
  )
  t.is(r.status, 0, r.stderr)
  const [esm, cjs] = JSON.parse(r.stdout) as [string[], string[]]
  t.deepEqual([...esm].sort(), [...declared].sort())
  t.deepEqual([...cjs].sort(), [...declared].sort())
})

test('a binary that is there but cannot load says so, with the real reason', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-badbin-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const bad = path.join(dir, 'mapshare.node')
  fs.writeFileSync(bad, 'not an ELF file')
  const r = spawnSync(
    process.execPath,
    ['-e', "try { require('./dist/index.js') } catch (e) { console.log(e.code + ' ' + e.message) }"],
    { cwd: ROOT, env: { ...process.env, MAPSHARE_BINARY_PATH: bad }, encoding: 'utf8' },
  )
  t.regex(r.stdout, /^ERR_MAPSHARE_BINARY_LOAD_FAILED /)
  t.regex(r.stdout, /could not be loaded: .*(invalid ELF header|too short)/)
  t.notRegex(r.stdout, /no prebuilt binary|wasi/i)
})

test('a damaged binary, a JSON file, a folder or another addon is refused before it is loaded, with a code', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-badbin-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const built = fs.readFileSync(path.join(ROOT, `mapshare.${target}.node`))
  const half = path.join(dir, 'half.node')
  fs.writeFileSync(half, built.subarray(0, Math.floor(built.length / 2)))
  const json = path.join(dir, 'data.json')
  fs.writeFileSync(json, '{"MmapFile": 1}')
  const other = fs
    .readdirSync(path.join(ROOT, 'node_modules', '@oxc-node'), { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(ROOT, 'node_modules', '@oxc-node', f))
    .find((f) => f.endsWith('.node'))
  const cases: Array<[string, string, RegExp]> = [
    ['half', half, /cut short/],
    ['json', json, /not an ELF file/],
    ['folder', ROOT, /is not a file/],
  ]
  if (other !== undefined) cases.push(['other addon', other, /not mapshare's/])
  t.true(other !== undefined, 'another Node addon to try (@oxc-node/core ships one)')
  for (const [what, file, reason] of cases) {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        "try { require('./dist/index.js'); console.log('loaded') } catch (e) { console.log(e.code + ' ' + e.message) }",
      ],
      { cwd: ROOT, env: { ...process.env, MAPSHARE_BINARY_PATH: file }, encoding: 'utf8' },
    )
    t.is(r.signal, null, `${what}: ${r.stderr}`)
    t.is(r.status, 0, `${what}: ${r.stderr}`)
    t.regex(r.stdout, /^ERR_MAPSHARE_BINARY_LOAD_FAILED /, what)
    t.regex(r.stdout, reason, what)
  }
})

test('a platform package of another version is refused, not loaded silently', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-version-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const pkg = path.join(dir, 'node_modules', 'mapshare')
  const platformPkg = path.join(dir, 'node_modules', `mapshare-${target}`)
  fs.mkdirSync(pkg, { recursive: true })
  fs.mkdirSync(platformPkg, { recursive: true })
  fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true })
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'))
  fs.writeFileSync(
    path.join(platformPkg, 'package.json'),
    JSON.stringify({ name: `mapshare-${target}`, version: '0.0.1', main: `mapshare.${target}.node` }),
  )
  fs.copyFileSync(
    path.join(ROOT, `mapshare.${target}.node`),
    path.join(platformPkg, `mapshare.${target}.node`),
  )
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      "try { require('mapshare'); console.log('loaded') } catch (e) { console.log(e.code + ' ' + e.message) }",
    ],
    { cwd: dir, encoding: 'utf8' },
  )
  t.regex(r.stdout, /^ERR_MAPSHARE_BINARY_VERSION mapshare 0\.1\.0 found mapshare-linux-x64-gnu 0\.0\.1/)
})

test('the loader and typings know nothing of WASI', (t) => {
  const files = [
    ...fs.readdirSync(path.join(ROOT, 'dist')).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts')),
    'binding/generated.d.ts',
  ]
  for (const file of files) {
    t.notRegex(fs.readFileSync(path.join(ROOT, 'dist', file), 'utf8'), /wasi|wasm32|NAPI_RS_/i, file)
  }
})
