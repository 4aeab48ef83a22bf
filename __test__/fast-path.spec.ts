// The JS fast path (src-js/fast-path.ts): after a few calls, atomics, copies and the uncontended lock run
// on typed arrays instead of native calls. It must be indistinguishable from the native methods:
// the same results and the same errors for any argument, the end of the fast path at close, resize
// and detach, and nothing different seen by other processes.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { fastPathState } from '../src-js/regions.ts'
import { MmapFile, SharedMemory, ShmSegment, pageSize, type Region } from '../src-js/index.ts'
import { snippet } from './helpers/snippet.ts'
import { ROOT } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

const WARM = 20 // more calls than the fast path's warm-up
// Without external buffers (npm run test:caged, as under Electron) there is no fast path: every
// call is native, and everything below must hold the same.
const caged = !!process.env.MAPSHARE_NO_EXTERNAL_BUFFERS

function warm(r: Region) {
  for (let i = 0; i < WARM; i++) r.load(0)
}

/** Whether the region's calls now take the fast path (its internal state has typed arrays). */
function engaged(r: object): boolean {
  const s = fastPathState(r)
  return s !== undefined && s.i32 !== null
}

/** What a call gave: its value, or its error's code and message. */
function outcome(fn: () => unknown): unknown {
  try {
    const v = fn()
    return { value: Buffer.isBuffer(v) ? [...v] : v }
  } catch (e) {
    const err = e as { code?: string; message?: string; name?: string }
    return { code: err.code, name: err.name, message: err.message }
  }
}

const values32: unknown[] = [
  0,
  1,
  -1,
  7,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32 - 1,
  2 ** 31,
  -0,
  0.5,
  NaN,
  Infinity,
  2 ** 32,
  -(2 ** 31) - 1,
  '1',
  1n,
  null,
  undefined,
  {},
]
const values64: unknown[] = [
  0n,
  1n,
  -1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 63n,
  -(2n ** 63n) - 1n,
  5,
  '1',
  undefined,
  null,
]
const offsets: unknown[] = [
  0,
  4,
  8,
  12,
  2,
  6,
  4088,
  4092,
  4096,
  4100,
  -4,
  -0,
  0.5,
  4.5,
  NaN,
  Infinity,
  2 ** 53,
  '0',
  0n,
  null,
  undefined,
  {},
]

function pick<T>(xs: T[], rnd: () => number): T {
  return xs[Math.floor(rnd() * xs.length)]
}

/** A small deterministic random number generator (xorshift), so a failure can be replayed. */
function rng(seed: number) {
  let x = seed || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

const ops32 = ['load', 'store', 'add', 'sub', 'and', 'or', 'xor', 'exchange', 'compareExchange'] as const
const ops64 = [
  'load64',
  'store64',
  'add64',
  'sub64',
  'and64',
  'or64',
  'xor64',
  'exchange64',
  'compareExchange64',
] as const

test('any argument gives the same result or error with the fast path as through the native call', (t) => {
  // Twin regions with equal bytes: the frozen one can never take the fast path. Every call is made
  // on both; outcomes and memory must stay the same.
  for (const make of [
    () => MmapFile.anonymous(pageSize, { shared: true }),
    () => MmapFile.anonymous(pageSize),
  ]) {
    const fast = make()
    const native = Object.freeze(make())
    warm(fast)
    warm(native)
    t.is(!caged, engaged(fast))
    t.false(engaged(native))
    const rnd = rng(12345)
    for (let i = 0; i < 20_000; i++) {
      const wide = rnd() < 0.5
      const op = wide ? pick([...ops64], rnd) : pick([...ops32], rnd)
      const vals = wide ? values64 : values32
      const args = [pick(offsets, rnd), pick(vals, rnd), pick(vals, rnd)]
      const call = (r: Region) => (r as unknown as Record<string, (...x: unknown[]) => unknown>)[op](...args)
      const got = outcome(() => call(fast))
      const want = outcome(() => call(native))
      if (
        JSON.stringify(got, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) !==
        JSON.stringify(want, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))
      )
        t.deepEqual(got, want, `${op}(${args.map(String).join(', ')})`)
    }
    t.true(fast.read().equals(native.read()))
    t.not(fast.load(0) | fast.load(4) | Number(fast.load64(8)), 0, 'the calls changed the memory')
    fast.close()
    native.close()
  }
})

test('wait and waitAsync give the same result or error with the fast path as through the native call', async (t) => {
  // Timeouts that end at once or are refused, so no call here can block for long; undefined, null
  // (no timeout, as undefined) and Infinity only where the word differs ('not-equal' at once). An
  // object is options ({ timeout }), as waitAsync takes them: one whose timeout is refused.
  const timeouts: unknown[] = [0, 1, -1, NaN, '1', { timeout: 'x' }, 0n]
  const fast = MmapFile.anonymous(pageSize, { shared: true })
  const native = Object.freeze(MmapFile.anonymous(pageSize, { shared: true }))
  warm(fast)
  warm(native)
  for (const r of [fast, native]) r.store(8, 7)
  t.is(!caged, engaged(fast))
  const rnd = rng(4242)
  const settle = async (p: () => unknown) => {
    try {
      const v = await p()
      return { value: v }
    } catch (e) {
      const err = e as { code?: string; message?: string; name?: string }
      return { code: err.code, name: err.name, message: err.message }
    }
  }
  for (let i = 0; i < 1000; i++) {
    const off = pick(offsets, rnd)
    const expected = pick(values32, rnd)
    const differs =
      typeof off === 'number' &&
      off % 4 === 0 &&
      off >= 0 &&
      off < pageSize &&
      fast.load(off) !== (Number(expected) | 0)
    const pool =
      differs && typeof expected === 'number' && Number.isInteger(expected)
        ? [...timeouts, undefined, null, Infinity]
        : timeouts
    const timeout = pick(pool, rnd)
    const label = `(${String(off)}, ${String(expected)}, ${String(timeout)})`
    const w = (r: Region) => () => (r.wait as (...x: unknown[]) => unknown)(off, expected, timeout)
    t.deepEqual(outcome(w(fast)), outcome(w(native)), `wait${label}`)
    // (an object given as the options themselves would mean no timeout: only inside options)
    const opts =
      timeout === undefined
        ? undefined
        : typeof timeout === 'object'
          ? { timeout }
          : pick([{ timeout }, timeout], rnd)
    const a = (r: Region) => () => (r.waitAsync as (...x: unknown[]) => unknown)(off, expected, opts)
    t.deepEqual(await settle(a(fast)), await settle(a(native)), `waitAsync${label}`)
  }
  fast.close()
  native.close()
})

test('the fast path and the native call agree on shared memory, op by op', (t) => {
  // One shared object mapped twice: each op runs once, through either mapping at random, and a
  // plain model of the memory (Atomics on a heap Int32Array/BigInt64Array) predicts every result.
  const name = `/mapshare-fast2-${process.pid}`
  const fast = SharedMemory.create(name, pageSize)
  const native = Object.freeze(SharedMemory.open(name))
  SharedMemory.unlink(name)
  warm(fast)
  t.is(!caged, engaged(fast))
  const model = new ArrayBuffer(pageSize)
  const m32 = new Int32Array(model)
  const m64 = new BigInt64Array(model)
  const rnd = rng(777)
  for (let i = 0; i < 5000; i++) {
    const wide = rnd() < 0.5
    const op = wide ? pick([...ops64], rnd) : pick([...ops32], rnd)
    const off = Math.floor(rnd() * 8) * 8 + (wide ? 0 : pick([0, 4], rnd))
    const v = wide ? BigInt(Math.floor(rnd() * 2 ** 40) - 2 ** 39) : Math.floor(rnd() * 2 ** 32) - 2 ** 31
    const w = wide ? pick([v, m64[off / 8]], rnd) : pick([v, m32[off / 4]], rnd)
    const r = (rnd() < 0.5 ? fast : native) as unknown as Record<string, (...x: unknown[]) => unknown>
    const base = op.replace('64', '') as keyof typeof Atomics
    const arr = wide ? m64 : m32
    const idx = off / (wide ? 8 : 4)
    const fn = Atomics[base] as (...x: unknown[]) => unknown
    const want = op.startsWith('load')
      ? fn(arr, idx)
      : op.startsWith('compareExchange')
        ? fn(arr, idx, w, v)
        : fn(arr, idx, v)
    const got = op.startsWith('load')
      ? r[op](off)
      : op.startsWith('compareExchange')
        ? r[op](off, w, v)
        : r[op](off, v)
    t.is(got, op === 'store' ? (v as number) | 0 : want, `${op}(${off})`)
  }
  t.true(fast.read().equals(Buffer.from(model)))
  fast.close()
  native.close()
})

test('readInto, write and read agree with the native copies for any argument', (t) => {
  const a = MmapFile.anonymous(pageSize, { shared: true })
  const b = Object.freeze(MmapFile.anonymous(pageSize, { shared: true }))
  warm(a)
  t.is(!caged, engaged(a))
  const targets = () => [
    Buffer.alloc(16),
    new Uint8Array(0),
    new Uint8Array(pageSize + 10),
    new Float64Array(2),
    new DataView(new ArrayBuffer(8)),
    new ArrayBuffer(8),
    'text',
    null,
  ]
  const datas: unknown[] = [
    Buffer.from('hello'),
    new Uint8Array(0),
    new Uint8Array(pageSize),
    new Uint16Array([1, 2]),
    'héllo',
    new ArrayBuffer(3),
    5,
    null,
  ]
  const offs: unknown[] = [
    undefined,
    0,
    1,
    10,
    pageSize - 5,
    pageSize - 1,
    pageSize,
    pageSize + 1,
    -1,
    1.5,
    NaN,
    '3',
    2 ** 53,
  ]
  for (const off of offs) {
    for (let k = 0; k < targets().length; k++) {
      const ta = targets()[k]
      const tb = targets()[k]
      const ra = outcome(() => a.readInto(ta as Uint8Array, off as number))
      const rb = outcome(() => b.readInto(tb as Uint8Array, off as number))
      t.deepEqual(ra, rb, `readInto(${String(ta)}, ${String(off)})`)
      if (ArrayBuffer.isView(ta)) t.deepEqual(Buffer.from(ta.buffer), Buffer.from((tb as Uint8Array).buffer))
    }
    for (const d of datas) {
      const ra = outcome(() => a.write(d as Buffer, off as number))
      const rb = outcome(() => b.write(d as Buffer, off as number))
      t.deepEqual(ra, rb, `write(${String(d)}, ${String(off)})`)
    }
    for (const len of [undefined, 0, 1, 7, pageSize, pageSize + 1, -1, 0.5, '2']) {
      t.deepEqual(
        outcome(() => a.read(off as number, len as number)),
        outcome(() => b.read(off as number, len as number)),
        `read(${String(off)}, ${String(len)})`,
      )
    }
    t.true(a.read().equals(b.read()))
  }
  a.close()
  b.close()
})

test('after close, dispose, detach or a failed resize every fast call throws ERR_MAPSHARE_CLOSED', (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const make = [
    () => MmapFile.anonymous(pageSize, { shared: true }),
    () => MmapFile.anonymous(pageSize),
    () => MmapFile.open(file, { flags: 'r+' }),
    () => SharedMemory.anonymous(pageSize),
  ]
  const ends: [string, (r: Region) => void][] = [
    ['close', (r) => r.close()],
    ['dispose', (r) => r[Symbol.dispose]()],
    ['close of a region frozen after warm-up', (r) => (Object.freeze(r), r.close())],
  ]
  for (const m of make) {
    for (const [how, end] of ends) {
      const r = m()
      warm(r)
      // A lock needs memory other threads and processes see: a private mapping refuses one.
      let lock: ReturnType<Region['mutex']> | null = null
      try {
        lock = r.mutex(64)
      } catch (e) {
        t.is((e as { code?: string }).code, 'EINVAL', `${String(m)}`)
        t.regex(String(e), /private/)
      }
      lock?.lock()
      lock?.unlock()
      end(r)
      for (const call of [
        () => r.load(0),
        () => r.store(0, 1),
        () => r.add(0, 1),
        () => r.load64(0),
        () => r.compareExchange64(0, 0n, 1n),
        () => r.readInto(Buffer.alloc(4)),
        () => r.write(Buffer.from('x')),
        () => r.read(0, 1),
        ...(lock === null ? [] : [() => lock.lock(), () => lock.unlock(), () => lock.tryLock()]),
      ])
        t.like(t.throws(call), { code: 'ERR_MAPSHARE_CLOSED' }, how)
    }
  }
  const key = 0x5f000000 + (process.pid & 0xffff)
  const seg = ShmSegment.create(key, pageSize, { mode: 0o600 })
  seg.remove()
  warm(seg)
  seg.detach()
  t.like(
    t.throws(() => seg.add(0, 1)),
    { code: 'ERR_MAPSHARE_CLOSED' },
  )
})

test('resize: the fast path follows the new mapping (grown words work, cut words are out of range)', (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = MmapFile.open(file, { flags: 'r+' })
  warm(r)
  r.store(8, 42)
  t.is(!caged, engaged(r))
  r.resize(4 * pageSize)
  t.false(engaged(r))
  t.is(r.load(8), 42)
  for (let i = 0; i < WARM; i++) r.store(3 * pageSize, i)
  t.is(fs.readFileSync(file).readInt32LE(3 * pageSize), WARM - 1)
  r.resize(pageSize)
  t.like(
    t.throws(() => r.load(3 * pageSize)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  warm(r)
  t.like(
    t.throws(() => r.load(3 * pageSize)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  t.is(r.load(8), 42)
  r.close()
})

test('read-only regions never take the fast path: stores fail, loads see the writer', (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const writer = MmapFile.open(file, { flags: 'r+' })
  const reader = MmapFile.open(file)
  warm(reader)
  t.false(engaged(reader))
  if (!caged) reader.buffer[0] = 9 // a private copy of the page in the user's Buffer
  for (let i = 0; i < WARM; i++) {
    writer.store(0, i + 100)
    t.is(reader.load(0), i + 100)
    t.like(
      t.throws(() => reader.store(4, 1)),
      { code: 'ERR_MAPSHARE_READ_ONLY' },
    )
    t.like(
      t.throws(() => reader.write(Buffer.from('x'), 4)),
      { code: 'ERR_MAPSHARE_READ_ONLY' },
    )
  }
  writer.close()
  reader.close()
})

test('a target whose byteLength getter closes the region is not consulted', (t) => {
  const r = MmapFile.anonymous(pageSize, { shared: true })
  warm(r)
  r.write(Buffer.from('abcdefgh'))
  t.is(!caged, engaged(r))
  let called = false
  const target = new Uint8Array(8)
  for (const key of ['byteLength', 'length', 'byteOffset', 'buffer'])
    Object.defineProperty(target, key, {
      get() {
        called = true
        r.close()
        return 1
      },
    })
  t.is(r.readInto(target), 8)
  t.is(Buffer.from(target.slice()).toString(), 'abcdefgh')
  t.false(called)
  t.false(r.closed)
  r.close()
})

test('a file truncated by another process still gives EFAULT from the copies and waits after warm-up, not SIGBUS', async (t) => {
  const res = await snippet(
    `
    import fs from 'node:fs'
import path from 'node:path'
    const file = process.argv[2]
    fs.writeFileSync(file, Buffer.alloc(4 * pageSize, 1))
    const r = MmapFile.open(file, { flags: 'r+' })
    const dst = Buffer.alloc(16)
    for (let i = 0; i < 50; i++) {
      r.readInto(dst, 3 * pageSize); r.write(dst, 3 * pageSize); r.load(0)
      r.wait(3 * pageSize, 0, 0); await r.waitAsync(3 * pageSize, 0)
    }
    fs.truncateSync(file, pageSize)
    for (const f of [
      () => r.readInto(dst, 3 * pageSize), () => r.write(dst, 3 * pageSize), () => r.read(3 * pageSize, 4),
      () => r.wait(3 * pageSize, 0, 0), () => r.wait(3 * pageSize, 0, 10),
    ]) {
      try { f(); console.log('no error') } catch (e) { console.log(e.code) }
    }
    for (const opts of [undefined, { timeout: 0 }, { timeout: 10 }]) {
      try { await r.waitAsync(3 * pageSize, 0, opts); console.log('no error') } catch (e) { console.log(e.code) }
    }
    r.close()
  `,
    { args: [tmpFile(t, Buffer.alloc(0))] },
  )
  t.is(res.signal, null, res.stderr)
  t.deepEqual(res.stdout.trim().split('\n'), Array(8).fill('EFAULT'))
})

test('fast-path atomics from two processes add up exactly', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const body = `
    const r = MmapFile.open(process.argv[2], { flags: 'r+' })
    for (let i = 0; i < 200000; i++) { r.add(0, 1); r.add64(8, 3n); r.sub(16, 1) }
    r.close()`
  const runs = await Promise.all([snippet(body, { args: [file] }), snippet(body, { args: [file] })])
  for (const res of runs) t.is(res.status, 0, res.stderr)
  const r = MmapFile.open(file)
  t.is(r.load(0), 400_000)
  t.is(r.load64(8), 1_200_000n)
  t.is(r.load(16), -400_000)
  r.close()
})

test('the fast lock records the thread id: a killed holder is seen dead, and threads exclude each other', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  // A child takes the lock through the fast path, then dies holding it.
  const res = await snippet(
    `
    const r = MmapFile.open(process.argv[2], { flags: 'r+' })
    const m = r.mutex(0)
    for (let i = 0; i < 50; i++) { m.lock(); m.unlock() }
    m.lock()
    console.log(r.load(0) === process.pid ? 'pid' : 'word ' + r.load(0))
    process.kill(process.pid, 'SIGKILL')
  `,
    { args: [file] },
  )
  t.is(res.signal, 'SIGKILL')
  t.is(res.stdout.trim(), 'pid')
  const r = MmapFile.open(file, { flags: 'r+' })
  const m = r.mutex(0)
  t.deepEqual(m.lock(5000), { ownerDied: true })
  t.like(
    t.throws(() => m.lock()),
    { code: 'EDEADLK' },
  ) // the fast path's CAS fails on our own id
  // Workers: each holds the lock while it does a non-atomic increment; the total is exact, and a
  // worker cannot unlock a lock this thread holds.
  const code = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { MmapFile } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))})
    const r = MmapFile.open(workerData, { flags: 'r+' })
    const m = r.mutex(0)
    let notOwner = ''
    try { m.unlock() } catch (e) { notOwner = e.code }
    parentPort.postMessage(notOwner)
    for (let i = 0; i < 20000; i++) { m.lock(); r.store(8, r.load(8) + 1); m.unlock() }
    r.close()`
  const held = new Worker(code, { eval: true, workerData: file })
  const first = await new Promise((resolve) => held.once('message', resolve))
  t.is(first, 'ERR_MAPSHARE_NOT_OWNER')
  m.unlock()
  const workers = [0, 1, 2].map(() => new Worker(code, { eval: true, workerData: file }))
  await Promise.all([held, ...workers].map((w) => new Promise((resolve) => w.once('exit', resolve))))
  t.is(r.load(8), 80_000)
  t.is(r.load(0), 0)
  r.close()
})

test('regions collected and made again never answer for each other (calls by handle)', async (t) => {
  // The first calls on a region (and every call without external buffers) go to the addon by a
  // handle number that is reused once its region is collected.
  const res = await snippet(`
    const keep = []
    let bad = 0
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) {
        const r = MmapFile.anonymous(pageSize, { shared: true })
        r.store(0, round * 1000 + i)
        r.add(0, 1)
        if (i % 2 === 0) keep.push([r, round * 1000 + i + 1]); else if (i % 3 === 0) r.close()
      }
      gc()
      await new Promise((resolve) => setImmediate(resolve))
      for (const [r, want] of keep) if (r.load(0) !== want || r.read(0, 4).readInt32LE(0) !== want) bad++
    }
    console.log(bad, keep.length)
  `)
  t.is(res.status, 0, res.stderr)
  t.is(res.stdout.trim(), '0 500')
})
