// waitAsync on the JS thread's own io_uring (Linux 6.7+, FUTEX_WAITV): no thread per wait, one
// wake-up per notify. Where the kernel lacks it (or MAPSHARE_NO_URING=1), waits keep their threads
// and these tests check that instead. Each case runs in a child process with a timeout.
import test from 'ava'
import fs from 'node:fs'
import { snippet } from './helpers/snippet.ts'

const forcedOff = !!process.env.MAPSHARE_NO_URING && process.env.MAPSHARE_NO_URING !== '0'

/** Whether this kernel has io_uring with FUTEX_WAITV (6.7+) and allows it. */
function kernelHasRing(): boolean {
  const [major, minor] = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number)
  let disabled = 0
  try {
    disabled = Number(fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8'))
  } catch {}
  return (major > 6 || (major === 6 && minor >= 7)) && disabled === 0
}

test('pending waitAsync calls cost no thread where the kernel has io_uring futex waits', async (t) => {
  const r = await snippet(`
    import fs from 'node:fs'
    const threads = () => fs.readdirSync('/proc/self/task').length
    const rings = () => fs.readdirSync('/proc/self/fd').filter((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f).includes('io_uring') } catch { return false } }).length
    const mem = SharedMemory.anonymous(4096)
    await mem.waitAsync(0, 1) // opens the ring (or not)
    const before = threads()
    const pending = Array.from({ length: 500 }, (_, i) => mem.waitAsync(4 * (i % 64), 0, { timeout: 20000 }))
    await new Promise((res) => setTimeout(res, 100))
    const during = threads()
    for (let i = 0; i < 64; i++) { mem.store(4 * i, 1); mem.notify(4 * i) }
    const results = await Promise.all(pending)
    console.log(JSON.stringify({ ring: rings() > 0, before, during, ok: results.filter((x) => x === 'ok').length }))
  `)
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.is(out.ok, 500)
  if (kernelHasRing() && !forcedOff) {
    t.true(out.ring, 'the kernel has io_uring futex waits: they are used')
    t.true(out.during <= out.before + 1, `threads ${out.before} -> ${out.during}`)
  } else {
    t.false(out.ring)
    t.true(out.during > out.before, 'without the ring, waits have threads')
  }
})

// On the ring the wait is in the kernel before waitAsync returns; without it (test:threads) the wait
// is listed with its word before waitAsync returns, and a notify from this process settles it there.
test('a notify right after waitAsync returns is never missed, on the ring and with waits grouped by word', async (t) => {
  const r = await snippet(`
    const mem = MmapFile.anonymous(4096, { shared: true })
    let ok = 0
    for (let i = 0; i < 2000; i++) {
      const p = mem.waitAsync(0, 0, { timeout: 5000 })
      mem.notify(0)
      if ((await p) === 'ok') ok++
    }
    console.log(ok)
  `)
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), '2000')
})

test('the ring keeps the process alive only while waits are pending', async (t) => {
  const r = await snippet(
    `
    const mem = MmapFile.anonymous(4096, { shared: true })
    console.log(await mem.waitAsync(0, 1)) // settled: nothing left pending
    mem.waitAsync(0, 0, { timeout: 300 }).then((v) => console.log(v)) // keeps it alive 300 ms
  `,
    { timeout: 10_000 },
  )
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout, 'not-equal\ntimed-out\n')
})

test('timeouts, aborts, close and a notify from another process settle ring waits as documented', async (t) => {
  const r = await snippet(
    `
    import { spawn } from 'node:child_process'
    const mem = SharedMemory.anonymous(4096)
    const out = []
    out.push(await mem.waitAsync(0, 0, { timeout: 30 }))
    const ac = new AbortController()
    const aborted = mem.waitAsync(0, 0, { signal: ac.signal })
    ac.abort(new Error('stop'))
    out.push(await aborted.catch((e) => e.name + ':' + e.cause.message))
    const child = spawn(process.execPath, ['-e', \`
      const { SharedMemory } = require(\${JSON.stringify(process.argv[2])})
      const m = SharedMemory.fromFd(3)
      setTimeout(() => { m.store(8, 1); m.notify(8); m.close() }, 200)
    \`], { stdio: ['ignore', 'inherit', 'inherit', mem.fd] })
    out.push(await mem.waitAsync(8, 0, { timeout: 10000 }))
    await new Promise((res) => child.on('exit', res))
    const closing = mem.waitAsync(16, 0)
    mem.close()
    out.push(await closing.catch((e) => e.code))
    console.log(out.join(' '))
  `,
    { args: [new URL('../dist/index.js', import.meta.url).pathname] },
  )
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), 'timed-out AbortError:stop ok ERR_MAPSHARE_CLOSED')
})

test('100,000 pending waitAsync calls: made, woken by one notify, settled and counted; fs works meanwhile', async (t) => {
  // On the ring each wait is a kernel waiter; on the thread path (test:threads) the waits are grouped
  // by word, one kernel wait standing for all: either way nothing is refused and notify counts each.
  const r = await snippet(
    `
import fs from 'node:fs'
const m = SharedMemory.anonymous(4096)
const waits = []
for (let i = 0; i < 100000; i++) waits.push(m.waitAsync(0, 0).catch((e) => e.code))
// fs keeps working with all of them pending (nothing of theirs sits on libuv's pool).
const read = await fs.promises.readFile('/proc/self/status', 'utf8')
await new Promise((r) => setTimeout(r, 100))
m.store(0, 1)
const woke = m.notify(0)
const results = await Promise.all(waits)
console.log(JSON.stringify({ read: read.length > 0, woke, ok: results.filter((y) => y === 'ok').length }))
`,
    { timeout: 110_000 },
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { read: boolean; woke: number; ok: number }
  t.true(out.read)
  t.is(out.ok, 100_000)
  t.is(out.woke, 100_000, 'notify counts the waits it woke')
})

test('a notify right after waitAsync, with the word unchanged, always wakes it, and counts exactly', async (t) => {
  const r = await snippet(`
const m = SharedMemory.anonymous(4096)
let lost = 0
for (let i = 0; i < 300; i++) {
  const p = m.waitAsync(0, 0, { timeout: 60000 })
  const n = m.notify(0, 1)
  const got = await p
  if (got !== 'ok' || n !== 1) lost++
}
// A partial notify wakes that many, oldest first; the rest time out.
const some = Array.from({ length: 10 }, () => m.waitAsync(4, 0, { timeout: 300 }))
const three = m.notify(4, 3)
const results = await Promise.all(some)
// Cancelled waits leave the others waiting, and are not counted.
const ac = new AbortController()
const kept = m.waitAsync(8, 0, { timeout: 60000 })
const dropped = m.waitAsync(8, 0, { signal: ac.signal })
ac.abort()
const aborted = await dropped.catch((e) => e.name)
const one = m.notify(8)
console.log(JSON.stringify({ lost, three, results, aborted, one, kept: await kept }))
m.close()
`)
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Record<string, unknown>
  t.deepEqual(out, {
    lost: 0,
    three: 3,
    results: ['ok', 'ok', 'ok', ...Array<string>(7).fill('timed-out')],
    aborted: 'AbortError',
    one: 1,
    kept: 'ok',
  })
})

test('another process notifies the waits of this one: woken and counted by the kernel', async (t) => {
  const r = await snippet(
    `
import { spawn } from 'node:child_process'
const m = SharedMemory.anonymous(4096)
const waits = Array.from({ length: 1000 }, () => m.waitAsync(0, 0, { timeout: 60000 }))
const child = spawn(process.execPath, ['-e', \`
  const { SharedMemory } = require(\${JSON.stringify(process.argv[2])})
  const m = SharedMemory.fromFd(3)
  console.log(m.notify(0))
  m.close()
\`], { stdio: ['ignore', 'pipe', 'inherit', m.fd] })
let counted = ''
child.stdout.on('data', (d) => (counted += d))
const results = await Promise.all(waits)
await new Promise((res) => child.on('close', res))
console.log(JSON.stringify({ ok: results.filter((x) => x === 'ok').length, counted: Number(counted) }))
m.close()
`,
    { args: [new URL('../dist/index.js', import.meta.url).pathname] },
  )
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { ok: number; counted: number }
  t.is(out.ok, 1000, 'every wait woken (the word never changed)')
  // Each wait is a kernel waiter on the ring; on the thread path the waits on one word are one.
  t.is(out.counted, forcedOff || !kernelHasRing() ? 1 : 1000)
})
