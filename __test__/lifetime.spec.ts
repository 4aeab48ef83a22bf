// Memory that outlives close() and resize(): native work on libuv's pool, moved ArrayBuffers and
// waiting threads keep the address range reserved (inert after close) until they let go, while the
// backing (file, object, segment, descriptor) is released at once. Every case runs in a child
// process and asserts how it ended: a crash or a hang fails the test, it cannot take the runner down.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { ended, snippet } from './helpers/snippet.ts'
import { tmpDir } from './helpers/tmp.ts'
import { caged } from './helpers/kinds.ts'

// Skipped only in the caged run (MAPSHARE_NO_EXTERNAL_BUFFERS, as under Electron): there is no `buffer`
// there, so nothing can hold one past close(); the copy methods are covered by the caged region tests.
const external = caged ? test.skip : test

/** Makes each kind of region over `size` bytes, in the child. `dir` is a fresh directory. */
const KINDS = `
import fs from 'node:fs'
import path from 'node:path'
const dir = process.argv[2]
let seq = 0
const names = []
process.on('exit', () => { for (const n of names) { try { SharedMemory.unlink(n) } catch {} } })
const kinds = {
  'file r+': (size) => { const f = path.join(dir, 'f' + ++seq); fs.writeFileSync(f, Buffer.alloc(size, 0x11)); return MmapFile.open(f, { flags: 'r+' }) },
  'file r': (size) => { const f = path.join(dir, 'f' + ++seq); fs.writeFileSync(f, Buffer.alloc(size, 0x11)); return MmapFile.open(f) },
  'anonymous private': (size) => MmapFile.anonymous(size),
  'anonymous shared': (size) => MmapFile.anonymous(size, { shared: true }),
  'POSIX shm': (size) => { const n = 'mapshare-life-' + process.pid + '-' + ++seq; names.push(n); return SharedMemory.create(n, size) },
  'memfd': (size) => SharedMemory.anonymous(size),
  'System V': (size) => { const s = ShmSegment.create('private', size); s.remove(); return s },
}
`

// Fills libuv's pool with jobs that hold its threads until release(): each opens a FIFO for reading,
// which blocks until a writer opens it. Work queued after them waits, whatever the pool's size and
// however fast the machine (a handshake, not a race against jobs that merely take long).
const HOLD_POOL = `
import { execFileSync } from 'node:child_process'
const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4
const fifos = Array.from({ length: poolSize }, (_, i) => { const p = path.join(dir, 'fifo' + i); execFileSync('mkfifo', [p]); return p })
const held = fifos.map((p) => new Promise((res) => fs.open(p, 'r', (e, fd) => { if (!e) fs.closeSync(fd); res() })))
const release = async () => {
  for (const p of fifos) {
    for (;;) {
      try { fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); break }
      catch (e) { if (e.code !== 'ENXIO') throw e; await new Promise((r) => setTimeout(r, 1)) } // its reader is not in open() yet
    }
  }
  await Promise.all(held)
}
`

external('native work on the pool that holds buffer survives close() on every kind of region', async (t) => {
  const r = await snippet(
    `${KINDS}
import crypto from 'node:crypto'
import zlib from 'node:zlib'
const size = 1 << 22
const done = []
for (const [kind, make] of Object.entries(kinds)) {
  const jobs = []
  const settle = (what) => new Promise((resolve) => jobs.push([what, resolve]))
  const one = (what, start) => { const p = settle(what); const resolve = jobs.at(-1)[1]; start((e) => resolve(e ? e.code || String(e) : 'ok')); return p }
  let r = make(size)
  const results = [
    one('randomFill', (cb) => crypto.randomFill(r.buffer, cb)),
    one('deflate', (cb) => zlib.deflate(r.buffer, cb)),
    one('fs.read', (cb) => fs.read(fs.openSync('/dev/urandom', 'r'), r.buffer, 0, size, null, cb)),
    one('fs.write', (cb) => fs.write(fs.openSync(path.join(dir, 'out-' + ++seq), 'w'), r.buffer, 0, size, null, cb)),
    one('randomFill subarray', (cb) => crypto.randomFill(r.buffer.subarray(4096), cb)),
  ]
  r.close()
  const got = await Promise.all(results)
  done.push(kind + ': ' + got.join(','))
}
console.log(done.join('\\n'))
`,
    { args: [tmpDir(t)] },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.status, 0, ended(r))
  t.is(r.stdout.trim().split('\n').length, 7, ended(r))
  for (const line of r.stdout.trim().split('\n')) t.regex(line, /: ok,ok,ok,ok,ok$/)
})

external('native work that holds buffer survives resize() of a file mapping', async (t) => {
  const r = await snippet(
    `${KINDS}
import crypto from 'node:crypto'
const r = kinds['file r+'](1 << 22)
const p = new Promise((resolve) => crypto.randomFill(r.buffer, (e) => resolve(e ? 'error' : 'ok')))
r.resize(4096)
r.buffer[0] = 1
console.log(await p, r.buffer.length)
r.resize(1 << 23)
console.log(r.buffer.length)
`,
    { args: [tmpDir(t)] },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, 'ok 4096\n8388608\n', ended(r))
})

external(
  'a read queued on the pool when close() runs lands in nothing anyone sees, not in the next region',
  async (t) => {
    const r = await snippet(
      `${KINDS}${HOLD_POOL}
const size = 1 << 20
// The pool is held, so the read below waits in its queue until release().
const f1 = path.join(dir, 'one'); fs.writeFileSync(f1, Buffer.alloc(size, 0x11))
const r1 = MmapFile.open(f1, { flags: 'r+' })
const src = path.join(dir, 'src'); fs.writeFileSync(src, Buffer.alloc(size, 0xee))
const read = new Promise((res) => fs.read(fs.openSync(src, 'r'), r1.buffer, 0, size, 0, (e, n) => res(e ? e.code : n)))
r1.close()
// New regions, which could take the address range r1 had if it were handed back.
const others = []
for (let i = 0; i < 8; i++) {
  const f = path.join(dir, 'other' + i); fs.writeFileSync(f, Buffer.alloc(size, 0x22))
  others.push(MmapFile.open(f, { flags: 'r+' }))
  others.push(MmapFile.anonymous(size, { shared: true }))
}
await release()
const n = await read
const clean = others.every((o) => { const want = o.path ? 0x22 : 0; return o.buffer.every((b) => b === want) })
const fileKept = fs.readFileSync(f1).every((b) => b === 0x11)
console.log(n, clean, fileKept)
`,
      { args: [tmpDir(t)], timeout: 60_000 },
    )
    t.is(r.signal, null, ended(r))
    t.is(r.stdout, `${1 << 20} true true\n`, ended(r))
  },
)

external(
  'an ArrayBuffer moved out of buffer survives close() and resize(), and sees nothing after',
  async (t) => {
    const r = await snippet(
      `${KINDS}
const move = (ab) => {
  if (typeof ab.transfer === 'function') return ab.transfer() // Node >= 22
  const { port1, port2 } = new MessageChannel()
  return new Promise((resolve) => { port2.once('message', (m) => { port1.close(); port2.close(); resolve(m) }); port1.postMessage(ab, [ab]) })
}
const out = []
for (const [kind, make] of Object.entries(kinds)) {
  const r = make(65536)
  const v = new Uint8Array(await move(r.buffer.buffer))
  v[1] = 7
  const sharedBefore = r.read(1, 1)[0] === 7 // a moved (not copied) view writes the mapping
  r.close()
  v[0] = 1 // a late write: reaches inert memory, never a crash
  out.push(kind + ' ' + v.length + ' ' + sharedBefore + ' ' + v[0])
}
const f = path.join(dir, 'resized'); fs.writeFileSync(f, Buffer.alloc(65536, 3))
const r = MmapFile.open(f, { flags: 'r+' })
const v = new Uint8Array(await move(r.buffer.buffer))
r.resize(4096)
v[100] = 9
out.push('resize ' + v.length + ' ' + fs.readFileSync(f).length + ' ' + fs.readFileSync(f)[100])
console.log(out.join('\\n'))
`,
      { args: [tmpDir(t)] },
    )
    t.is(r.signal, null, ended(r))
    t.is(r.status, 0, ended(r))
    const lines = r.stdout.trim().split('\n')
    t.is(lines.length, 8, ended(r))
    for (const line of lines.slice(0, 7)) t.regex(line, / 65536 (true|false) 1$/)
    t.is(lines[7], 'resize 65536 4096 3', 'the late write after resize reached inert memory, not the file')
  },
)

external('close() releases the backing at once even while native work holds the memory', async (t) => {
  const dir = tmpDir(t)
  const r = await snippet(
    `${KINDS}${HOLD_POOL}
import crypto from 'node:crypto'
const size = 1 << 20
const maps = (needle) => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes(needle)).length
// A file: no mapping of it is left, and another process may shrink it with no harm.
const f = path.join(dir, 'held'); fs.writeFileSync(f, Buffer.alloc(size, 1))
const file = MmapFile.open(f, { flags: 'r+' })
const p1 = new Promise((res) => crypto.randomFill(file.buffer, () => res('ok')))
file.close()
const fileMaps = maps(f)
fs.truncateSync(f, 0)
// System V: nattch drops to 0 at close.
const seg = ShmSegment.create('private', size)
const p2 = new Promise((res) => crypto.randomFill(seg.buffer, () => res('ok')))
const id = seg.id
seg.close()
const nattch = ShmSegment.fromId(id)
const attached = nattch.stat().nattch // only this new attachment
nattch.remove(); nattch.close()
// memfd: the descriptor is closed at close.
const mem = SharedMemory.anonymous(size)
const fd = mem.fd
const p3 = new Promise((res) => crypto.randomFill(mem.buffer, () => res('ok')))
mem.close()
let fdState = 'open'
try { fs.fstatSync(fd) } catch (e) { fdState = e.code }
await release()
console.log(fileMaps, attached, fdState, await p1, await p2, await p3)
`,
    { args: [dir], timeout: 60_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, '0 1 EBADF ok ok ok\n', ended(r))
})

test('100,000 open/close cycles and forgotten regions leak no mappings, descriptors or memory', async (t) => {
  const r = await snippet(
    `${KINDS}
const f = path.join(dir, 'cycle'); fs.writeFileSync(f, Buffer.alloc(4096, 1))
const count = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').length
const fds = () => fs.readdirSync('/proc/self/fd').length
const settle = async () => { for (let i = 0; i < 6; i++) { gc(); await new Promise((r) => setImmediate(r)) } }
const caged = !!process.env.MAPSHARE_NO_EXTERNAL_BUFFERS
const cycle = async (n) => {
  for (let i = 0; i < n; i++) {
    if (i % 5000 === 0) process.stderr.write('.') // progress: the parent kills only a child that stops
    const r = MmapFile.open(f, { flags: i % 2 ? 'r+' : 'r' })
    if (!caged) r.buffer[0] // every other one read-only: two mappings each
    r.close()
  }
  for (let i = 0; i < n / 5; i++) {
    const r = MmapFile.open(f, { flags: 'r+' }) // forgotten, never closed
    if (!caged) r.buffer[0]
  }
  await settle()
}
await cycle(100000) // the same work once before: the JS heap and the allocator reach their working size
const before = [count(), fds(), process.memoryUsage().rss]
await cycle(100000)
const after = [count(), fds(), process.memoryUsage().rss]
console.log(JSON.stringify({ before, after }))
`,
    {
      args: [tmpDir(t)],
      timeout: 900_000,
      idleTimeout: 60_000,
      env: { MAPSHARE_NO_EXTERNAL_BUFFERS: caged ? '1' : '' },
    },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.status, 0, ended(r))
  const { before, after } = JSON.parse(r.stdout) as { before: number[]; after: number[] }
  t.true(after[0] - before[0] < 200, `mappings ${before[0]} -> ${after[0]}`)
  t.true(after[1] - before[1] <= 2, `descriptors ${before[1]} -> ${after[1]}`)
  t.true(after[2] - before[2] < 32 * 1024 * 1024, `rss ${before[2]} -> ${after[2]}`)
})

test('mapping until the system limit refuses with ENOMEM early enough for the runtime to live on', async (t) => {
  const r = await snippet(
    `${KINDS}
const f = path.join(dir, 'many'); fs.writeFileSync(f, Buffer.alloc(4096, 1))
const kept = []
let error
try {
  for (;;) kept.push(MmapFile.open(f, { flags: 'r+' }))
} catch (e) { error = e }
// JS work that needs new memory from the OS: the process must live on.
const junk = []
for (let i = 0; i < 200; i++) junk.push(new Array(100000).fill(i).map(String))
const big = Buffer.alloc(64 << 20, 1)
console.log(error.code, /max_map_count/.test(error.message), kept.length > 1000, junk.length, big[0])
for (const r of kept) r.close()
`,
    { args: [tmpDir(t)], timeout: 120_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, 'ENOMEM true true 200 1\n', ended(r))
})

test('regions larger than a Buffer can be: a coded error, never a crash; copies count past 4 GiB', async (t) => {
  const r = await snippet(
    `
const size = 2 ** 32 + 4096
const out = []
for (const make of [() => MmapFile.anonymous(size), () => MmapFile.anonymous(size, { shared: true }), () => SharedMemory.anonymous(size)]) {
  const r = make()
  try { out.push(r.buffer.length === size ? 'buffer' : 'wrong length') } catch (e) { out.push(e.code) }
  try { r.read(0, size) ; out.push('read') } catch (e) { out.push(e.code) }
  r.write('end', size - 3)
  out.push(r.read(size - 3, 3).toString())
  r.close()
}
const r = MmapFile.anonymous(size)
r.write('tail', size - 4)
const target = new ArrayBuffer(size)
out.push(r.readInto(target) === size, Buffer.from(target, size - 4, 4).toString())
console.log(out.join(' '))
`,
    { timeout: 180_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.status, 0, ended(r))
  const max = (await import('node:buffer')).constants.MAX_LENGTH
  const [big] = max >= 2 ** 32 + 4096 ? ['buffer'] : ['ERR_MAPSHARE_BUFFER_TOO_LARGE']
  const read = max >= 2 ** 32 + 4096 ? 'read' : 'ERR_OUT_OF_RANGE'
  t.is(r.stdout.trim(), [...Array(3).fill(`${big} ${read} end`), 'true tail'].join(' '), ended(r))
})

test('a foreign SIGBUS still kills the process after mapshare installed its copy handler', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'bus')
  fs.writeFileSync(file, Buffer.alloc(8192, 1))
  const r = await snippet(
    `
const r = MmapFile.open(process.argv[2], { flags: 'r+' })
r.read(0, 16) // the checked copy installs the SIGBUS handler
process.kill(process.pid, 'SIGBUS')
setTimeout(() => console.log('survived'), 1000)
`,
    { args: [file] },
  )
  t.is(r.signal, 'SIGBUS', ended(r))
  t.is(r.stdout, '')
})

test('copies still survive truncation after a foreign SIGBUS was ignored', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'bus')
  fs.writeFileSync(file, Buffer.alloc(8192, 1))
  const r = await snippet(
    `
import fs from 'node:fs'
process.on('SIGBUS', () => console.log('handled'))
const r = MmapFile.open(process.argv[2], { flags: 'r+' })
r.read(0, 16)
process.kill(process.pid, 'SIGBUS')
await new Promise((res) => setTimeout(res, 200))
fs.truncateSync(process.argv[2], 0)
try { r.read(0, 16) } catch (e) { console.log(e.code) }
`,
    { args: [file] },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, 'handled\nEFAULT\n', ended(r))
})
