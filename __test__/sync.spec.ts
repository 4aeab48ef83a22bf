import test from 'ava'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { MmapFile, SharedMemory, pageSize } from '../src-js/index.ts'
import { peer } from './helpers/cc.ts'
import { kinds } from './helpers/kinds.ts'
import { fixture, LOADER, ROOT } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

test('32-bit atomics agree with Atomics.* on an Int32Array over buffer', (t) => {
  const region = MmapFile.anonymous(pageSize, { shared: true })
  const view = new Int32Array(region.buffer.buffer, 0, 16)
  const mirror = new Int32Array(new SharedArrayBuffer(64))
  let seed = 12345
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) - 0x40000000
  for (let i = 0; i < 2000; i++) {
    const idx = i % 16
    const v = rnd()
    const ops: [string, () => number, () => number][] = [
      ['add', () => region.add(idx * 4, v), () => Atomics.add(mirror, idx, v)],
      ['sub', () => region.sub(idx * 4, v), () => Atomics.sub(mirror, idx, v)],
      ['and', () => region.and(idx * 4, v), () => Atomics.and(mirror, idx, v)],
      ['or', () => region.or(idx * 4, v), () => Atomics.or(mirror, idx, v)],
      ['xor', () => region.xor(idx * 4, v), () => Atomics.xor(mirror, idx, v)],
      ['exchange', () => region.exchange(idx * 4, v), () => Atomics.exchange(mirror, idx, v)],
      ['store', () => region.store(idx * 4, v), () => Atomics.store(mirror, idx, v)],
    ]
    const exp = i % 3 === 0 ? mirror[idx] : v // compareExchange that succeeds, or (mostly) fails
    ops.push([
      'compareExchange',
      () => region.compareExchange(idx * 4, exp, v ^ 1),
      () => Atomics.compareExchange(mirror, idx, exp, v ^ 1),
    ])
    const [name, mine, theirs] = ops[i % ops.length]
    const a = mine()
    const b = theirs()
    t.is(a, b, `${name} #${i}`)
    t.is(region.load(idx * 4), Atomics.load(mirror, idx))
    t.is(Atomics.load(view, idx), region.load(idx * 4))
  }
  region.close()
})

test('64-bit atomics take and return bigints; offsets are checked for alignment and range', (t) => {
  const region = MmapFile.anonymous(64)
  t.is(region.add64(8, 5n), 0n)
  t.is(region.exchange64(8, -(2n ** 63n)), 5n)
  t.is(region.load64(8), -(2n ** 63n))
  t.is(region.compareExchange64(8, -(2n ** 63n), 7n), -(2n ** 63n))
  t.is(region.load64(8), 7n)
  t.throws(() => region.load(2), { code: 'ERR_MAPSHARE_UNALIGNED', instanceOf: RangeError })
  t.throws(() => region.load64(4), { code: 'ERR_MAPSHARE_UNALIGNED', instanceOf: RangeError })
  t.throws(() => region.load(64), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.add64(0, 1 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => region.add64(0, 2n ** 64n), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.add(0, 1.5), { code: 'ERR_OUT_OF_RANGE' })
  region.close()
  t.throws(() => region.load(0), { code: 'ERR_MAPSHARE_CLOSED' })
  const file = tmpFile(t, Buffer.alloc(8))
  const ro = MmapFile.open(file)
  t.is(ro.load(0), 0)
  t.throws(() => ro.add(0, 1), { code: 'ERR_MAPSHARE_READ_ONLY' })
  ro.close()
})

for (const [kind, make] of Object.entries(kinds)) {
  test(`atomics and notify work on ${kind}, through copies of the same memory`, (t) => {
    const { region, reopen } = make(t, pageSize)
    const other = reopen()
    t.is(region.add(4, 41), 0)
    t.is(other.add(4, 1), 41)
    t.is(region.load(4), 42)
    t.is(other.notify(4), 0) // nobody waits
    if (other !== region) other.close()
    region.close()
  })
}

test('wait: not-equal at once, timed-out after the timeout', (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  t.is(region.wait(0, 1), 'not-equal')
  const t0 = performance.now()
  t.is(region.wait(0, 0, 30), 'timed-out')
  t.true(performance.now() - t0 >= 25)
  t.throws(() => region.wait(0, 0, -1), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.wait(0, 0, NaN), { code: 'ERR_OUT_OF_RANGE' })
  region.close()
})

async function pingPong(
  t: any,
  region: MmapFile | SharedMemory,
  target: string,
  rounds: number,
  mode: string,
  fd?: number,
) {
  const child = spawn(process.execPath, [...LOADER, fixture('ping-pong.ts'), target, String(rounds), mode], {
    cwd: ROOT,
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', fd],
  })
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const t0 = performance.now()
  for (let i = 0; i < rounds; i++) {
    region.store(0, 2 * i + 1)
    region.notify(0, 1)
    for (;;) {
      const seen = region.load(0)
      if (seen === 2 * i + 2) break
      const r =
        mode === 'async' ? await region.waitAsync(0, seen, { timeout: 5000 }) : region.wait(0, seen, 5000)
      if (r === 'timed-out')
        throw new Error(`ping: lost wake-up in round ${i} (word ${region.load(0)}); child: ${err}`)
    }
  }
  const ms = performance.now() - t0
  t.is(await exited, 0, err)
  t.log(`${rounds} round trips (${mode}): ${((ms * 1000) / rounds).toFixed(1)} µs each`)
}

test.serial(
  'ping-pong between two processes over a shared file: 100,000 round trips, no lost wake-up',
  async (t) => {
    const file = tmpFile(t, Buffer.alloc(pageSize))
    const region = MmapFile.open(file, { flags: 'r+' })
    await pingPong(t, region, file, 100_000, 'sync')
    region.close()
  },
)

test.serial('ping-pong over a memfd passed to the child: 100,000 round trips', async (t) => {
  const shm = SharedMemory.anonymous(pageSize)
  await pingPong(t, shm, '-', 100_000, 'sync', shm.fd)
  shm.close()
})

test.serial('ping-pong with waitAsync on both sides: 5,000 round trips', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  await pingPong(t, region, file, 5_000, 'async')
  region.close()
})

test('a C process calling the futex syscall wakes a Node waiter, and Node wakes a C waiter', async (t) => {
  // Neither side changes the word: only a real wake-up can end either wait, so a lost wake-up shows
  // as a timeout (30 s), and each side reports how it was woken.
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  const exe = peer('futex_peer')
  // C wakes Node: the C program FUTEX_WAKEs one waiter on the word at 64, again every 10 ms until one
  // was woken; Node waits on it while it holds 0.
  const c1 = spawn(exe, ['wake', file, '64'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let c1out = ''
  c1.stdout.on('data', (d) => (c1out += d))
  const c1done = new Promise((r) => c1.on('close', r))
  t.is(region.wait(64, 0, 30_000), 'ok')
  t.is(await c1done, 0)
  t.is(c1out.trim(), 'woke 1', 'the C wake-up found Node waiting, and woke it')
  t.is(region.load(64), 0, 'nothing changed the word: the wake-up alone ended the wait')
  // Node wakes C: the C program makes one FUTEX_WAIT on the word at 128 while it is 0; Node notifies,
  // without changing the word, until its notify reports one waiter woken.
  const cw = spawn(exe, ['wait', file, '128'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const cwClosed = new Promise((r) => cw.on('close', r)) // listened to at once: it may end before we look
  let out = ''
  cw.stdout.on('data', (d) => (out += d))
  let woke = 0
  for (let i = 0; i < 2000 && woke === 0; i++) {
    await new Promise((r) => setTimeout(r, 5))
    woke = region.notify(128, 1)
  }
  t.is(woke, 1, 'notify reported the C waiter it woke')
  t.is(await cwClosed, 0, out)
  t.is(out, 'waiting\nwoken\n', 'the C wait ended by the wake-up, not by a timeout or a changed word')
  region.close()
})

test('waitAsync: a timeout resolves timed-out; an aborted signal rejects with AbortError', async (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  t.is(await region.waitAsync(0, 0, { timeout: 20 }), 'timed-out')
  t.is(await region.waitAsync(0, 5), 'not-equal')
  const ac = new AbortController()
  const pending = region.waitAsync(0, 0, { signal: ac.signal })
  setTimeout(() => ac.abort(new Error('stop waiting')), 20)
  const err = await t.throwsAsync(pending)
  t.like(err, { name: 'AbortError', code: 'ABORT_ERR' })
  t.is((err as Error & { cause: Error }).cause.message, 'stop waiting')
  const already = AbortSignal.abort()
  await t.throwsAsync(region.waitAsync(0, 0, { signal: already }), { name: 'AbortError' })
  const notified = region.waitAsync(0, 0, { timeout: 5000 })
  setTimeout(() => region.notify(0), 20)
  t.is(await notified, 'ok')
  const orphan = region.waitAsync(0, 0)
  region.close()
  await t.throwsAsync(orphan, { code: 'ERR_MAPSHARE_CLOSED' })
})

test('waitAsync never starves libuv: 4x UV_THREADPOOL_SIZE pending waits while fs calls complete', async (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
  const waits = Array.from({ length: 4 * pool }, () => region.waitAsync(0, 0, { timeout: 20_000 }))
  const file = tmpFile(t, 'fs still works')
  const reads = await Promise.all(Array.from({ length: 8 }, () => fs.promises.readFile(file, 'utf8')))
  t.deepEqual(reads, Array(8).fill('fs still works'))
  // Wake them all (a waiter's thread may still be on its way into the kernel: notify until all woke).
  let woken = 0
  for (let i = 0; i < 400 && woken < waits.length; i++) {
    woken += region.notify(0)
    if (woken < waits.length) await new Promise((r) => setTimeout(r, 5))
  }
  t.is(woken, waits.length)
  t.deepEqual(await Promise.all(waits), Array(4 * pool).fill('ok'))
  region.close()
})
