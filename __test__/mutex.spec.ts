import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { MmapFile, pageSize } from '../src-js/index.ts'
import { fixture, LOADER, ROOT, start, waitForLine } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

test('lock, tryLock, unlock; errors for the wrong owner, relocking and timeouts', (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  const m = region.mutex(8)
  t.is(m.byteOffset, 8)
  t.deepEqual(m.lock(), { ownerDied: false })
  t.not(region.load(8), 0) // the owner's thread id
  t.like(
    t.throws(() => m.lock()),
    { code: 'EDEADLK' },
  )
  m.unlock()
  t.is(region.load(8), 0)
  t.like(
    t.throws(() => m.unlock()),
    { code: 'ERR_MAPSHARE_NOT_OWNER' },
  )
  t.deepEqual(m.tryLock(), { ownerDied: false })
  // Another live thread's lock (a pid that exists: this process's parent) cannot be taken.
  region.store(16, process.ppid)
  const other = region.mutex(16)
  t.is(other.tryLock(), null)
  t.is(other.lock(30), null) // timed out
  t.like(
    t.throws(() => other.unlock()),
    { code: 'ERR_MAPSHARE_NOT_OWNER' },
  )
  t.throws(() => region.mutex(2), { code: 'ERR_MAPSHARE_UNALIGNED', instanceOf: RangeError })
  m.unlock()
  region.close()
  t.throws(() => m.lock(), { code: 'ERR_MAPSHARE_CLOSED' })
})

// Where the kernel keeps no robust list (macOS, Windows), or under MAPSHARE_LOCK_POLICY=liveness
// (`npm run test:liveness` reruns this file so), the word holds the owner's process id and lockers
// ask whether that process still runs.
const liveness = process.platform !== 'linux' || process.env.MAPSHARE_LOCK_POLICY === 'liveness'

test('the lock word names the holder: its thread id (robust list) or its process id (liveness policy)', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const code = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { readlinkSync } = require('node:fs')
    const { MmapFile } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))})
    const r = MmapFile.open(workerData, { flags: 'r+' })
    const m = r.mutex(0)
    m.lock()
    const tid = process.platform === 'linux' ? Number(readlinkSync('/proc/thread-self').split('/').pop()) : 0
    parentPort.postMessage({ word: r.load(0), tid })
    m.unlock()
    r.close()`
  const worker = new Worker(code, { eval: true, workerData: file })
  const seen = await new Promise<{ word: number; tid: number }>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  if (process.platform === 'linux') t.not(seen.tid, process.pid, "a worker's thread id is not the process id")
  t.is(seen.word, liveness ? process.pid : seen.tid)
})

test('a word naming a process that has exited: taken over with ownerDied under the liveness policy only', async (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  const gone = spawnSync(process.execPath, ['-e', '0']).pid
  if (gone === undefined) return t.fail('no child process')
  for (const how of ['tryLock', 'lock', 'lockAsync'] as const) {
    region.store(8, gone)
    const m = region.mutex(8)
    const got =
      how === 'tryLock' ? m.tryLock() : how === 'lock' ? m.lock(200) : await m.lockAsync({ timeout: 200 })
    if (liveness) {
      t.deepEqual(got, { ownerDied: true }, how)
      t.is(region.load(8), process.pid)
      m.unlock()
    } else {
      // The robust list alone tells deaths: a number in the word is never taken for a dead owner.
      t.is(got, null, how)
      t.is(region.load(8) & 0x3fff_ffff, gone) // (lock() set the waiters bit)
    }
  }
  region.close()
})

test('a holder killed with SIGKILL: the next locker gets the lock and ownerDied, and so does a waiter', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  const lock = region.mutex(0)
  for (const waiting of [false, true]) {
    const holder = start(fixture('lock-holder.ts'), [file])
    await waitForLine(holder.child, /locked/)
    t.is(lock.tryLock(), null, 'held by the live child')
    const pending = waiting ? lock.lockAsync({ timeout: 10_000 }) : undefined
    holder.child.kill('SIGKILL')
    t.is((await holder.done).signal, 'SIGKILL')
    const got = waiting ? await pending : lock.lock(10_000)
    t.deepEqual(got, { ownerDied: true }, waiting ? 'a waiter' : 'the next locker')
    t.is(region.read(64, 12).toString(), 'half-updated') // what the program must now repair
    lock.unlock()
    t.deepEqual(lock.lock(), { ownerDied: false })
    lock.unlock()
  }
  region.close()
})

test('4 processes x 10,000 locked increments of a plain counter give the exact total', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const procs = Array.from({ length: 4 }, () =>
    spawn(process.execPath, [...LOADER, fixture('locked-increments.ts'), file, '10000'], { cwd: ROOT }),
  )
  const codes = await Promise.all(procs.map((p) => new Promise((r) => p.on('close', r))))
  t.deepEqual(codes, [0, 0, 0, 0])
  const region = MmapFile.open(file)
  t.is(region.read(8, 4).readInt32LE(0), 40_000)
  t.is(region.load(0) & 0x3fffffff, 0, 'unlocked at the end')
  region.close()
})

test('lockAsync: resolves when the holder unlocks, null on timeout, AbortError on abort', async (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  region.store(0, process.ppid) // held by a live process that is not us
  const m = region.mutex(0)
  t.is(await m.lockAsync({ timeout: 30 }), null)
  const ac = new AbortController()
  const aborted = m.lockAsync({ signal: ac.signal })
  setTimeout(() => ac.abort(), 20)
  await t.throwsAsync(aborted, { name: 'AbortError' })
  const later = m.lockAsync({ timeout: 5000 })
  setTimeout(() => {
    region.store(0, 0) // the holder lets go
    region.notify(0)
  }, 20)
  t.deepEqual(await later, { ownerDied: false })
  m.unlock() // lockAsync took it on behalf of this thread
  region.store(0, process.ppid)
  const orphan = m.lockAsync()
  region.close()
  await t.throwsAsync(orphan, { code: 'ERR_MAPSHARE_CLOSED' })
})

test('using: a held lock is released at the end of the scope, once, and only the latest hold', async (t) => {
  const region = MmapFile.anonymous(64, { shared: true })
  const m = region.mutex(8)
  {
    using held = m.lock()
    t.deepEqual(held, { ownerDied: false }) // the dispose method is not enumerable
    t.not(region.load(8), 0)
  }
  t.is(region.load(8), 0, 'released by the using declaration')
  // Unlocked by hand first: disposing does nothing (no ERR_MAPSHARE_NOT_OWNER).
  const first = m.lock()
  m.unlock()
  first[Symbol.dispose]()
  // Taken again since: the earlier result no longer owns it.
  const second = m.lock()
  first[Symbol.dispose]()
  t.not(region.load(8), 0, 'the later hold is kept')
  second[Symbol.dispose]()
  t.is(region.load(8), 0)
  second[Symbol.dispose]() // twice: nothing
  // tryLock and lockAsync results too.
  {
    using a = m.tryLock()
    t.truthy(a)
    t.not(region.load(8), 0)
  }
  t.is(region.load(8), 0)
  {
    await using b = await m.lockAsync()
    t.truthy(b)
  }
  t.is(region.load(8), 0)
  // An error other than "not the owner" is not hidden: the region was closed meanwhile.
  const held = m.lock()
  region.close()
  t.throws(() => held[Symbol.dispose](), { code: 'ERR_MAPSHARE_CLOSED' })
})
