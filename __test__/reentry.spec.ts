// Read-only mappings that must keep seeing other processes' writes, timeouts of any size, and user
// JS (getters, signals) that closes or resizes the region in the middle of a call. Each case runs in
// a child process: a crash, an abort or a hang fails the test.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { getEventListeners } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { MmapFile, SharedMemory } from '../src-js/index.ts'
import { ended, snippet } from './helpers/snippet.ts'
import { start, waitForLine } from './helpers/spawn.ts'
import { tmpDir } from './helpers/tmp.ts'
import { lockAvailable } from './helpers/kinds.ts'

// Every mapshare call on a read-only region, then a wait for the writer (another process) and what
// the reader sees afterwards through load(), read() and buffer.
const READER = `
const [kind, target] = process.argv.slice(2)
const open = (populate) => kind === 'file' ? MmapFile.open(target, { populate }) : SharedMemory.open(target, { readonly: true })
const r = open(true)
const calls = {
  load: () => r.load(0),
  load64: () => r.load64(8),
  wait: () => r.wait(0, 12345, 1),
  notify: () => r.notify(0),
  read: () => r.read(0, 16),
  readInto: () => r.readInto(Buffer.alloc(16)),
  advise: () => r.advise('willneed'),
  residency: () => r.residency(),
  lockMemory: () => { try { r.lockMemory(); r.unlockMemory() } catch (e) { if (!['EPERM', 'ENOMEM', 'EAGAIN'].includes(e.code)) throw e } },
  buffer: () => r.buffer[0],
  flush: () => r.flush(),
}
for (const [name, call] of Object.entries(calls)) {
  if (name === 'buffer' && process.env.MAPSHARE_NO_EXTERNAL_BUFFERS) continue
  call()
}
const refused = []
for (const [name, call] of Object.entries({
  store: () => r.store(0, 1),
  add: () => r.add(0, 1),
  compareExchange: () => r.compareExchange(0, 0, 1),
  mutex: () => r.mutex(0).lock(10),
  tryLock: () => r.mutex(0).tryLock(),
  write: () => r.write('x'),
})) {
  try { call(); refused.push(name + ':no') } catch (e) { refused.push(name + ':' + e.code) }
}
let lockAsync
try { lockAsync = await r.mutex(4).lockAsync().then(() => 'no', (e) => e.code) } catch (e) { lockAsync = e.code }
const woken = r.waitAsync(0, 0, { timeout: 20000 })
console.log('waiting')
const how = await woken
const viaBuffer = process.env.MAPSHARE_NO_EXTERNAL_BUFFERS ? 42 : r.buffer.readInt32LE(0)
console.log(refused.join(' '), 'lockAsync:' + lockAsync, how, r.load(0), r.read(0, 4).readInt32LE(0), viaBuffer)
`

for (const kind of ['file', 'shm'] as const) {
  test(`a read-only ${kind} mapping keeps seeing another process's writes after every mapshare call`, async (t) => {
    let writer: MmapFile | SharedMemory
    let target: string
    if (kind === 'file') {
      target = path.join(tmpDir(t), 'shared.bin')
      fs.writeFileSync(target, Buffer.alloc(1 << 20))
      writer = MmapFile.open(target, { flags: 'r+' })
    } else {
      target = `mapshare-ro-${process.pid}`
      writer = SharedMemory.create(target, 1 << 20, { exclusive: false })
      t.teardown(() => SharedMemory.unlink(target))
    }
    const dir = tmpDir(t)
    const file = path.join(dir, 'reader.mjs')
    // The reader is an unrelated process; the writer is this test process.
    const body = (await import('node:url')).pathToFileURL(path.resolve('dist/index.js')).href
    fs.writeFileSync(
      file,
      `import * as mapshare from ${JSON.stringify(body)}\nconst { MmapFile, SharedMemory } = mapshare\n${READER}`,
    )
    const { child, done } = start(file, [kind, target], { timeout: 30_000 })
    await waitForLine(child, /^waiting$/)
    await new Promise((r) => setTimeout(r, 50)) // let the wait begin
    writer.store(0, 42)
    writer.notify(0)
    child.stdin!.end()
    const r = await done
    writer.close()
    t.is(r.signal, null, ended(r))
    t.is(
      r.stdout.split('\n')[1],
      'store:ERR_MAPSHARE_READ_ONLY add:ERR_MAPSHARE_READ_ONLY compareExchange:ERR_MAPSHARE_READ_ONLY ' +
        'mutex:ERR_MAPSHARE_READ_ONLY tryLock:ERR_MAPSHARE_READ_ONLY write:ERR_MAPSHARE_READ_ONLY ' +
        'lockAsync:ERR_MAPSHARE_READ_ONLY ok 42 42 42',
      ended(r),
    )
  })
}

test('populate on a read-only file costs no private memory', async (t) => {
  const file = path.join(tmpDir(t), 'big.bin')
  fs.writeFileSync(file, Buffer.alloc(64 << 20, 1))
  const r = await snippet(
    `
const anon = () => Number(fs.readFileSync('/proc/self/status', 'utf8').match(/RssAnon:\\s+(\\d+)/)[1]) * 1024
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
const before = anon()
const r = MmapFile.open(process.argv[2], { populate: true })
const sum = r.read(0, 4096)[0]
console.log(anon() - before < (16 << 20), r.residency().resident === r.residency().pages, sum)
`,
    { args: [file] },
  )
  t.is(r.stdout, 'true true 1\n', ended(r))
})

test('timeouts of any size mean "forever" or a clear error, never a panic', async (t) => {
  const r = await snippet(`
const r = MmapFile.anonymous(64, { shared: true })
const out = []
out.push(r.wait(0, 1, 1e300), r.wait(0, 1, Number.MAX_VALUE), r.wait(0, 1, Infinity), r.wait(0, 0, 1e-300))
for (const bad of [NaN, -1, -Infinity]) { try { r.wait(0, 0, bad) } catch (e) { out.push(e.code) } }
if (${lockAvailable}) {
  const m = r.mutex(8)
  out.push(JSON.stringify(m.lock(1e300))); m.unlock()
  out.push(JSON.stringify(await m.lockAsync({ timeout: Number.MAX_VALUE }))); m.unlock()
}
const forever = r.waitAsync(0, 0, { timeout: Number.MAX_VALUE }).catch((e) => e.code)
const forever2 = r.waitAsync(0, 0, { timeout: 2 ** 64 }).catch((e) => e.code)
setTimeout(() => r.close(), 50)
out.push(await forever, await forever2)
console.log(out.join(' '))
`)
  t.is(r.signal, null, ended(r))
  t.is(
    r.stdout.trim(),
    'not-equal not-equal not-equal timed-out ERR_OUT_OF_RANGE ERR_OUT_OF_RANGE ERR_OUT_OF_RANGE ' +
      (lockAvailable ? '{"ownerDied":false} {"ownerDied":false} ' : '') +
      'ERR_MAPSHARE_CLOSED ERR_MAPSHARE_CLOSED',
    ended(r),
  )
})

test('getters and signals that close or resize the region mid-call cannot crash it', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'r.bin')
  fs.writeFileSync(file, Buffer.alloc(65536))
  const r = await snippet(
    `
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
const file = process.argv[2]
const open = () => { fs.writeFileSync(file, Buffer.alloc(65536)); return MmapFile.open(file, { flags: 'r+' }) } // a free lock word each time
const out = []
const lockOk = ${lockAvailable} // no lock under qemu-user: those calls report 'unavailable'
const locked = (r, call) => lockOk ? settle(call(r.mutex(0))) : 'unavailable'
const settle = (p) => Promise.race([p.then((v) => 'resolved:' + JSON.stringify(v), (e) => e.code || e.name), new Promise((r) => setTimeout(() => r('pending'), 3000))])
for (const act of ['close', 'resize']) {
  const hit = (r) => () => { act === 'close' ? r.close() : r.resize(4096) }
  // waitAsync: options getters
  let r = open()
  out.push(await settle(r.waitAsync(0, 0, { get timeout() { hit(r)(); return 50 } })))
  r = open()
  const sig = (r) => ({ get aborted() { hit(r)(); return false }, addEventListener() {}, removeEventListener() {} })
  out.push(await settle(r.waitAsync(0, 0, { timeout: 50, signal: sig(r) })))
  r = open()
  const sig2 = (r) => ({ aborted: false, addEventListener() { hit(r)() }, removeEventListener() {} })
  out.push(await settle(r.waitAsync(0, 0, { timeout: 50, signal: sig2(r) })))
  // lockAsync: the same getters
  r = open()
  out.push(await locked(r, (m) => m.lockAsync({ get timeout() { hit(r)(); return 50 } })))
  r = open()
  out.push(await locked(r, (m) => m.lockAsync({ signal: sig(r) })))
  r = open()
  out.push(await locked(r, (m) => m.lockAsync({ signal: sig2(r) })))
  try { r.mutex(0).unlock() } catch {}
}
// A signal that is not one (an AbortController), and one whose getter throws: rejections, nothing left pending.
const r = MmapFile.open(file, { flags: 'r+' })
out.push(await settle(r.waitAsync(0, 0, { signal: new AbortController() })))
out.push(await settle(r.waitAsync(0, 0, { get signal() { throw Object.assign(new Error('x'), { code: 'BOOM' }) } })))
out.push(await locked(r, (m) => m.lockAsync({ signal: new AbortController() })))
r.close()
console.log(out.join(' '))
`,
    { args: [file] },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.status, 0, ended(r))
  const got = r.stdout.trim().split(' ')
  t.is(got.length, 15, ended(r))
  // Closing or resizing before the wait is registered rejects it as closed; after, the wait either
  // ends (timed out on the new mapping) or is cancelled: never EFAULT, never a crash, never pending.
  // The signals above are look-alikes (plain objects): refused before any of their members runs.
  got.slice(0, 12).forEach((g, i) => {
    if (!lockAvailable && i % 6 >= 3) t.is(g, 'unavailable', `call ${i}`)
    else if (i % 3 === 0) t.regex(g, /^(ERR_MAPSHARE_CLOSED|resolved:.*)$/, `call ${i}`)
    else t.is(g, 'ERR_INVALID_ARG_TYPE', `call ${i}`)
  })
  t.deepEqual(got.slice(12), [
    'ERR_INVALID_ARG_TYPE',
    'BOOM',
    lockAvailable ? 'ERR_INVALID_ARG_TYPE' : 'unavailable',
  ])
  t.false(got.includes('pending'))
})

test('the classes cannot be constructed with new: ERR_ILLEGAL_CONSTRUCTOR', async (t) => {
  const m = await import('../src-js/index.ts')
  for (const C of [m.MmapFile, m.SharedMemory, m.ShmSegment, m.Mutex]) {
    const err = t.throws(() => new (C as unknown as new () => unknown)(), { instanceOf: TypeError })
    t.is((err as NodeJS.ErrnoException).code, 'ERR_ILLEGAL_CONSTRUCTOR', C.name)
  }
  // Instances made by the factories still work, Mutex included.
  const r = m.MmapFile.anonymous(64, { shared: true })
  if (lockAvailable) t.deepEqual(r.mutex(0).lock(), { ownerDied: false })
  else t.throws(() => r.mutex(0), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
  r.close()
})

// A block device's size is not st_size (0): mapping past its end must be EINVAL at open, not SIGBUS.
const loop = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return null
  }
})()
;(loop ? test : test.skip)(
  'a block device is checked against its real size (needs root and losetup for a loop device)',
  async (t) => {
    const img = path.join(tmpDir(t), 'disk.img')
    fs.writeFileSync(img, Buffer.alloc(1 << 20, 5))
    const dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim()
    t.teardown(() => execFileSync('losetup', ['-d', dev]))
    const r = await snippet(
      `
const dev = process.argv[2]
const out = []
for (const opts of [{ offset: 1 << 20, length: 4096 }, { offset: 0, length: (1 << 20) + 4096 }, { offset: 1 << 20 }]) {
  try { MmapFile.open(dev, opts); out.push('opened') } catch (e) { out.push(e.code) }
}
const whole = MmapFile.open(dev)
out.push(whole.length, whole.read(0, 1)[0])
whole.close()
console.log(out.join(' '))
`,
      { args: [dev] },
    )
    t.is(r.signal, null, ended(r))
    t.is(r.stdout, `EINVAL EINVAL EINVAL ${1 << 20} 5\n`, ended(r))
  },
)

test('settled waits remove their abort listener: no MaxListenersExceededWarning', async (t) => {
  const r = MmapFile.anonymous(64, { shared: true })
  const ac = new AbortController()
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.name)
  process.on('warning', onWarning)
  for (let i = 0; i < 40; i++) t.is(await r.waitAsync(0, 0, { timeout: 1, signal: ac.signal }), 'timed-out')
  for (let i = 0; i < (lockAvailable ? 40 : 0); i++) {
    t.is(
      await r
        .mutex(8)
        .lockAsync({ signal: ac.signal })
        .then((l: { ownerDied: boolean } | null) => l?.ownerDied),
      false,
    )
    r.mutex(8).unlock()
  }
  await new Promise((res) => setImmediate(res))
  process.off('warning', onWarning)
  t.is(getEventListeners(ac.signal, 'abort').length, 0)
  t.deepEqual(warnings, [])
  r.close()
})

// Docker's /dev/shm holds 64 MiB: an object larger than the free space used to open, then crash the
// process (SIGBUS) on first touch. As root, a private mount namespace gives the child a 1 MiB
// /dev/shm; otherwise the child asks for more than the machine's /dev/shm has free.
const SMALL_SHM = `
const free = (() => { const s = fs.statfsSync('/dev/shm'); return s.bavail * s.bsize })()
const size = free + (8 << 20)
const out = []
for (const make of [() => SharedMemory.create('mapshare-nospace-' + process.pid, size), () => SharedMemory.create('mapshare-nospace-' + process.pid, size, { exclusive: false })]) {
  try { const r = make(); r.buffer.fill(1); out.push('opened') } catch (e) { out.push(e.code + (/free/.test(e.message) ? ':says-free' : '')) }
}
try { SharedMemory.unlink('mapshare-nospace-' + process.pid); out.push('left-behind') } catch (e) { out.push(e.code) }
const fits = SharedMemory.create('mapshare-fits-' + process.pid, 4096)
fits.buffer.fill(2)
SharedMemory.unlink('mapshare-fits-' + process.pid)
console.log(out.join(' '), fits.read(0, 1)[0])
`
test('shared memory larger than the free space of /dev/shm is ENOSPC at create, not a crash later', async (t) => {
  const canNamespace = (() => {
    if (process.getuid?.() !== 0) return false
    try {
      execFileSync('unshare', ['--mount', 'true'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })()
  let r
  if (canNamespace) {
    const dir = tmpDir(t)
    const file = path.join(dir, 'small-shm.mjs')
    const index = (await import('node:url')).pathToFileURL(path.resolve('dist/index.js')).href
    fs.writeFileSync(
      file,
      `import fs from 'node:fs'\nimport { SharedMemory } from ${JSON.stringify(index)}\n${SMALL_SHM}`,
    )
    const out = execFileSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tmpfs -o size=1m tmpfs /dev/shm && exec "${process.execPath}" "${file}"`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    )
    r = { status: 0, signal: null, stdout: out, stderr: '' }
  } else {
    r = await snippet(`import fs from 'node:fs'\n${SMALL_SHM}`)
  }
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, 'ENOSPC:says-free ENOSPC:says-free ENOENT 2\n', ended(r))
})

test('util.inspect shows what a region is', (t) => {
  const r = MmapFile.anonymous(64)
  t.is(inspect(r), 'MmapFile { path: null, length: 64, closed: false }')
  r.close()
  t.is(inspect(r), 'MmapFile { path: null, length: 0, closed: true }')
  const shm = SharedMemory.anonymous(64)
  t.regex(inspect(shm), /^SharedMemory \{ name: null, fd: \d+, length: 64, closed: false \}$/)
  shm.close()
})

test('a method or getter called on the wrong receiver: ERR_INVALID_THIS', async (t) => {
  const m = await import('../src-js/index.ts')
  const region = m.MmapFile.anonymous(64, { shared: true })
  const calls: Array<() => unknown> = [
    () => m.MmapFile.prototype.read.call({}),
    () => m.SharedMemory.prototype.write.call(region, 'x'),
    () => m.ShmSegment.prototype.close.call(null),
    () => m.Mutex.prototype.lock.call(region),
    () => Object.getOwnPropertyDescriptor(m.MmapFile.prototype, 'length')!.get!.call({}),
  ]
  for (const call of calls) t.throws(call, { instanceOf: TypeError, code: 'ERR_INVALID_THIS' })
  t.is(region.read(0, 1).length, 1) // the right receiver still works
  region.close()
})
