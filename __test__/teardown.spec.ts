// Waits and locks at the edges of a program's life: workers terminated or left behind while blocked,
// process.exit() with blocked workers, a lock owner killed and not yet reaped, and hand-offs between
// many waiters. Each case is a child process with a timeout: a hang is a failure.
import test from 'ava'
import { ended, snippet } from './helpers/snippet.ts'

const WORKER = (body: string) => `
import { Worker } from 'node:worker_threads'
const startWorker = (code, workerData) => new Worker(code, { eval: true, workerData })
${body}
`

const blockedWorker = `
const code = \`
  const { parentPort, workerData } = require('node:worker_threads')
  const { SharedMemory } = require(workerData.index)
  const r = SharedMemory.fromFd(workerData.fd)
  parentPort.postMessage('blocking')
  if (workerData.how === 'wait') r.wait(0, 0)
  else if (workerData.how === 'lock') r.mutex(8).lock()
  else r.waitAsync(0, 0).then(() => parentPort.postMessage('woken'))
\``

test('worker.terminate() ends a worker blocked in wait() or lock(), promptly', async (t) => {
  const r = await snippet(
    WORKER(`${blockedWorker}
const mem = SharedMemory.anonymous(64)
mem.store(8, process.ppid) // the lock is held by a live process that is not us
const out = []
for (const how of ['wait', 'lock']) {
  const w = startWorker(code, { index: process.argv[2], fd: mem.fd, how })
  await new Promise((res) => w.once('message', res))
  await new Promise((res) => setTimeout(res, 50))
  const t0 = Date.now()
  const exitCode = await w.terminate()
  out.push(how + ':' + exitCode + ':' + (Date.now() - t0 < 2000))
}
console.log(out.join(' '))
`),
    { args: [indexPath()], timeout: 30_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, 'wait:1:true lock:1:true\n', ended(r))
})

test('process.exit() returns while a worker is blocked in wait() or lock()', async (t) => {
  for (const how of ['wait', 'lock']) {
    const r = await snippet(
      WORKER(`${blockedWorker}
const mem = SharedMemory.anonymous(64)
mem.store(8, process.ppid)
const w = startWorker(code, { index: process.argv[2], fd: mem.fd, how: ${JSON.stringify(how)} })
await new Promise((res) => w.once('message', res))
await new Promise((res) => setTimeout(res, 50))
console.log('exiting')
process.exit(7)
`),
      { args: [indexPath()], timeout: 20_000 },
    )
    t.is(r.signal, null, `${how}: ${ended(r)}`)
    t.is(r.status, 7, `${how}: ${ended(r)}`)
  }
})

test('terminated workers with a pending waitAsync leave no thread, mapping or descriptor behind', async (t) => {
  const r = await snippet(
    WORKER(`${blockedWorker}
import fs from 'node:fs'
const mem = SharedMemory.anonymous(64)
const threads = () => Number(fs.readFileSync('/proc/self/status', 'utf8').match(/Threads:\\s+(\\d+)/)[1])
const fds = () => fs.readdirSync('/proc/self/fd').length
const memfds = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('memfd:mapshare')).length
const round = async () => {
  for (let i = 0; i < 10; i++) {
    const w = startWorker(code, { index: process.argv[2], fd: mem.fd, how: 'waitAsync' })
    await new Promise((res) => w.once('message', res))
    await w.terminate()
  }
  for (let i = 0; i < 5; i++) { gc(); await new Promise((res) => setTimeout(res, 20)) }
}
await round() // the first round starts the waiter threads that stay (idle ones leave after 10 s)
const before = [threads(), fds(), memfds()]
await round()
// Terminated workers' threads exit asynchronously: look until the counts are back (or 20 s passed),
// rather than after a fixed sleep.
let after = [threads(), fds(), memfds()]
for (let i = 0; i < 1000 && (after[0] > before[0] + 2 || after[1] > before[1] || after[2] > before[2]); i++) {
  gc()
  await new Promise((res) => setTimeout(res, 20))
  after = [threads(), fds(), memfds()]
}
console.log(JSON.stringify({ before, after }))
`),
    { args: [indexPath()], timeout: 60_000 },
  )
  t.is(r.signal, null, ended(r))
  const { before, after } = JSON.parse(r.stdout) as { before: number[]; after: number[] }
  t.true(after[0] <= before[0] + 2, `threads ${before[0]} -> ${after[0]}`)
  t.true(after[1] <= before[1], `descriptors ${before[1]} -> ${after[1]}`)
  t.true(after[2] <= before[2], `memfd mappings ${before[2]} -> ${after[2]}`)
})

test('a lock owner killed and not yet reaped (a zombie) is seen as dead', async (t) => {
  const r = await snippet(
    `
import { spawn } from 'node:child_process'
import fs from 'node:fs'
const mem = SharedMemory.anonymous(64)
const child = spawn(process.execPath, ['-e', \`
  const { SharedMemory } = require(\${JSON.stringify(process.argv[2])})
  const r = SharedMemory.fromFd(3)
  r.mutex(0).lock()
  console.log('locked')
  setInterval(() => {}, 1000)
\`], { stdio: ['ignore', 'pipe', 'inherit', mem.fd] })
await new Promise((res) => child.stdout.once('data', res))
process.kill(child.pid, 'SIGKILL')
// Wait until the child is a zombie, without letting the event loop (which would reap it) run.
for (let i = 0; i < 200; i++) {
  const stat = fs.readFileSync('/proc/' + child.pid + '/stat', 'utf8')
  if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') break
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
}
// The event loop has not run since the kill: the child is unreaped. A lock with no timeout.
console.log(JSON.stringify(mem.mutex(0).lock()))
`,
    { args: [indexPath()], timeout: 20_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, '{"ownerDied":true}\n', ended(r))
})

test('lock hand-offs between many waiters do not stall (no lost wake-up)', async (t) => {
  // Four threads take the lock 100 times each. With lost wake-ups every hand-off to a sleeper
  // waited for the 100 ms liveness check: 400 hand-offs took 20-40 s. A generous bound of 15 s
  // separates the two without timing anything finer.
  const r = await snippet(
    WORKER(`
const mem = SharedMemory.anonymous(64)
const code = \`
  const { parentPort, workerData } = require('node:worker_threads')
  const { SharedMemory } = require(workerData.index)
  const r = SharedMemory.fromFd(workerData.fd)
  const m = r.mutex(0)
  for (let i = 0; i < 100; i++) {
    m.lock()
    const v = r.load(4)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1) // hold it a little: others sleep
    r.store(4, v + 1)
    m.unlock()
  }
  parentPort.postMessage('done')
\`
const t0 = Date.now()
const ws = []
for (let i = 0; i < 4; i++) ws.push(startWorker(code, { index: process.argv[2], fd: mem.fd }))
await Promise.all(ws.map((w) => new Promise((res) => w.once('message', res))))
console.log(mem.load(4), Date.now() - t0 < 15000)
`),
    { args: [indexPath()], timeout: 60_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, '400 true\n', ended(r))
})

function indexPath(): string {
  return new URL('../dist/index.js', import.meta.url).pathname
}

test('thousands of pending waitAsync and lockAsync calls use a bounded number of threads', async (t) => {
  const r = await snippet(
    `
import fs from 'node:fs'
const threads = () => Number(fs.readFileSync('/proc/self/status', 'utf8').match(/Threads:\\s+(\\d+)/)[1])
const r = SharedMemory.anonymous(8192)
r.store(8000, process.ppid) // a lock held by a live process that is not us
const before = threads()
const waits = []
for (let i = 0; i < 3000; i++) waits.push(r.waitAsync((i % 1000) * 4, 0, { timeout: 60000 }))
const locks = []
for (let i = 0; i < 200; i++) locks.push(r.mutex(8000).lockAsync({ timeout: 1500 }))
await new Promise((res) => setTimeout(res, 300))
const grew = threads() - before
for (let i = 0; i < 1000; i++) { r.store(i * 4, 1); r.notify(i * 4) }
const results = await Promise.all(waits)
const timedOut = (await Promise.all(locks)).filter((l) => l === null).length // the holder never let go
r.store(8000, 0)
const taken = await r.mutex(8000).lockAsync({ timeout: 5000 })
console.log(grew <= 100, results.every((x) => x === 'ok'), timedOut, JSON.stringify(taken))
`,
    { timeout: 120_000 },
  )
  t.is(r.signal, null, ended(r))
  t.is(r.stdout, 'true true 200 {"ownerDied":false}\n', ended(r))
})
