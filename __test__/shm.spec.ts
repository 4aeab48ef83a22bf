import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { SharedMemory, pageSize } from '../src-js/index.ts'
import { runPeer } from './helpers/cc.ts'
import { snippet } from './helpers/snippet.ts'
import { fixture, LOADER, ROOT, run } from './helpers/spawn.ts'

/** A fresh POSIX name, unlinked when the test ends (even if it fails). */
function shmName(t: ExecutionContext, tag: string): string {
  const name = `mapshare-test-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  t.teardown(() => {
    try {
      SharedMemory.unlink(name)
    } catch {}
  })
  return name
}

const exists = (name: string) => fs.existsSync(`/dev/shm/${name}`)

test("create maps a new object; 'x' and '/x' are the same name; unlink removes it", (t) => {
  const name = shmName(t, 'basic')
  const shm = SharedMemory.create(name, 3 * pageSize)
  t.is(shm.name, '/' + name)
  t.is(shm.length, 3 * pageSize)
  t.is(shm.length, 3 * pageSize)
  t.is(shm.fd, null)
  t.true(shm.buffer.every((b) => b === 0))
  t.true(exists(name))
  t.is(fs.statSync(`/dev/shm/${name}`).mode & 0o777, 0o600)
  shm.buffer.write('shared bytes')
  const again = SharedMemory.open('/' + name)
  t.is(again.buffer.toString('utf8', 0, 12), 'shared bytes')
  again.close()
  shm.unlink()
  t.false(exists(name))
  t.is(shm.buffer.toString('utf8', 0, 12), 'shared bytes') // the mapping outlives the name
  shm.close()
  t.like(
    t.throws(() => SharedMemory.open(name)),
    { code: 'ENOENT', syscall: 'shm_open', path: '/' + name },
  )
})

test('exclusive create fails with EEXIST; exclusive: false opens and grows, never shrinks', (t) => {
  const name = shmName(t, 'excl')
  const a = SharedMemory.create(name, pageSize, { mode: 0o640 })
  a.write('keep')
  t.is(fs.statSync(`/dev/shm/${name}`).mode & 0o777, 0o640)
  const err = t.throws(() => SharedMemory.create(name, pageSize))!
  t.like(err, { code: 'EEXIST', errno: -17, syscall: 'shm_open' })
  t.regex(err.message, /already exists/)
  const b = SharedMemory.create(name, 2 * pageSize, { exclusive: false })
  t.is(b.length, 2 * pageSize)
  t.is(b.read(0, 4).toString(), 'keep')
  const c = SharedMemory.create(name, 100, { exclusive: false })
  t.is(c.length, 100)
  t.is(fs.statSync(`/dev/shm/${name}`).size, 2 * pageSize)
  for (const r of [a, b, c]) r.close()
})

test('bad names get clear errors naming the limit', (t) => {
  t.like(
    t.throws(() => SharedMemory.create('', 10)),
    { code: 'EINVAL' },
  )
  t.like(
    t.throws(() => SharedMemory.create('/', 10)),
    { code: 'EINVAL' },
  )
  t.regex(
    t.throws(() => SharedMemory.create('a/b', 10), { code: 'EINVAL' })!.message,
    /must not contain '\/'/,
  )
  const long = t.throws(() => SharedMemory.create('x'.repeat(256), 10), { code: 'ENAMETOOLONG' })!
  t.regex(long.message, /at most 255/)
  t.like(
    t.throws(() => SharedMemory.create(5 as any, 10)),
    { code: 'ERR_INVALID_ARG_TYPE' },
  )
  t.like(
    t.throws(() => SharedMemory.create('ok-name', 0)),
    { code: 'EINVAL' },
  )
  t.like(
    t.throws(() => SharedMemory.create('ok-name', -1)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  t.false(exists('ok-name'))
})

test('a write by another process through a named object is seen here without any flush', async (t) => {
  const name = shmName(t, 'xproc')
  const shm = SharedMemory.create(name, pageSize)
  const r = await run(fixture('shm-writer.ts'), [name, '10', 'from the other process'])
  t.is(r.status, 0, r.stderr)
  t.is(shm.buffer.toString('utf8', 10, 32), 'from the other process')
  shm.close()
})

test('readonly open: Buffer writes stay private and never crash; write() is refused', async (t) => {
  const name = shmName(t, 'ro')
  const shm = SharedMemory.create(name, pageSize)
  shm.write('ABCDEFGH')
  const r = await run(fixture('readonly-shm-write.ts'), ['/' + name])
  t.is(r.signal, null)
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), 'XXXXEFGH')
  t.is(shm.read(0, 8).toString(), 'ABCDEFGH')
  const ro = SharedMemory.open(name, { readonly: true })
  t.throws(() => ro.write('x'), { code: 'ERR_MAPSHARE_READ_ONLY' })
  ro.close()
  shm.close()
})

test('anonymous memory (memfd) is shared with a child through spawn stdio, both directions', async (t) => {
  const shm = SharedMemory.anonymous(pageSize)
  t.is(shm.name, null)
  t.true(typeof shm.fd === 'number' && shm.fd > 2)
  t.true(fs.readlinkSync(`/proc/self/fd/${shm.fd}`).startsWith('/memfd:mapshare'))
  shm.write('hello child\0')
  const child = spawn(process.execPath, [...LOADER, fixture('memfd-child.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe', shm.fd],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const code = await new Promise((resolve) => child.on('close', resolve))
  t.is(code, 0, err)
  t.is(out.trim(), 'hello child')
  t.is(shm.buffer.toString('utf8', 100, 114), 'child was here')
  t.throws(() => shm.unlink(), { code: 'ERR_MAPSHARE_NO_NAME' })
  const fd = shm.fd
  shm.close()
  t.throws(() => shm.fd, { code: 'ERR_MAPSHARE_CLOSED' })
  t.throws(() => fs.fstatSync(fd), { code: 'EBADF' }) // the memfd was closed with the region
})

test('a 4 GiB sparse object costs no resident memory until touched (seed 003)', (t) => {
  const name = shmName(t, 'sparse')
  const rss = () => {
    const status = fs.readFileSync('/proc/self/status', 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
  }
  const GiB = 1024 ** 3
  const before = rss()
  const shm = SharedMemory.create(name, 4 * GiB)
  t.is(shm.length, 4 * GiB)
  const afterMap = rss()
  t.true(afterMap - before < 16 * 1024 ** 2, `mapping 4 GiB grew RSS by ${afterMap - before} bytes`)
  // Touch one byte in each GiB: four pages become resident, not four GiB.
  for (let g = 0; g < 4; g++) shm.write('x', g * GiB + 123)
  const afterTouch = rss()
  t.true(afterTouch - before < 32 * 1024 ** 2, `touching 4 pages grew RSS by ${afterTouch - before} bytes`)
  t.is(shm.residency(0, 2 * pageSize).resident, 1)
  t.true(fs.statSync(`/dev/shm/${name}`).blocks * 512 <= 64 * pageSize) // sparse on tmpfs
  t.is(shm.read(3 * GiB + 123, 1).toString(), 'x')
  shm.close()
})

test('interop with C (seed 003): three 64-bit integers written by C are read by Node, and back', (t) => {
  const name = shmName(t, 'c003')
  runPeer('posix_seed003', ['write', '/' + name, String(4096), '100', '876', '8021'])
  const shm = SharedMemory.open(name)
  t.deepEqual(
    [0, 8, 16].map((o) => shm.buffer.readBigInt64LE(o)),
    [100n, 876n, 8021n],
  )
  shm.buffer.writeBigInt64LE(-5n, 0)
  shm.write(Buffer.from(new BigInt64Array([42n, 7n]).buffer), 8)
  t.is(runPeer('posix_seed003', ['read', '/' + name]).trim(), '-5 42 7')
  shm.close()
})

test('create(null) makes a unique name; unlinkOnClose removes it when the creator closes', (t) => {
  const a = SharedMemory.create(null, 4096)
  const b = SharedMemory.create(null, 4096, { unlinkOnClose: true })
  t.regex(a.name!, /^\/ms-[0-9a-f]+-[0-9a-f]{8}$/)
  t.not(a.name, b.name)
  const name = b.name!
  const peer = SharedMemory.open(name)
  b.write('shared')
  t.is(peer.read(0, 6).toString(), 'shared')
  b.close()
  t.throws(() => SharedMemory.open(name), { code: 'ENOENT' }) // gone with its creator
  t.is(peer.read(0, 6).toString(), 'shared') // mappings stay, as after shm_unlink
  peer.close()
  const kept = a.name!
  a.close()
  t.notThrows(() => SharedMemory.open(kept).close()) // without the option the name stays
  SharedMemory.unlink(kept)
  t.throws(() => SharedMemory.create(null, 4096, { unlinkOnClose: 'yes' as never }), {
    code: 'ERR_INVALID_ARG_TYPE',
  })
})

test('unlinkOnClose removes only its own object: a new one another process made under the name stays', async (t) => {
  const name = `/mapshare-own-${process.pid}`
  const ours = SharedMemory.create(name, 4096, { unlinkOnClose: true })
  ours.write('ours')
  // Another process unlinks our object and makes a new one under the same name.
  const r = await snippet(
    `const name = process.argv[2]
     SharedMemory.unlink(name)
     const theirs = SharedMemory.create(name, 4096)
     theirs.write('theirs')
     theirs.close()
     console.log('made')`,
    { args: [name] },
  )
  t.is(r.stdout.trim(), 'made', r.stderr)
  ours.close()
  const theirs = SharedMemory.open(name)
  t.is(theirs.read(0, 6).toString(), 'theirs', 'the other process kept its object and its name')
  theirs.close()
  SharedMemory.unlink(name)
  // Still its own: removed on close, and a name already gone is no error.
  const again = SharedMemory.create(name, 4096, { unlinkOnClose: true })
  again.close()
  t.throws(() => SharedMemory.open(name), { code: 'ENOENT' })
  const gone = SharedMemory.create(name, 4096, { unlinkOnClose: true })
  SharedMemory.unlink(name)
  t.notThrows(() => gone.close())
})

test('unlinkOnClose names go when the program ends without close(): exit, end, throw, a worker ending or terminated', async (t) => {
  // Each child creates a name with unlinkOnClose (and one without, which must stay), prints both,
  // and ends in its own way without closing either.
  const endings: Record<string, string> = {
    'process.exit()': 'process.exit(0)',
    'the event loop runs out': '',
    'an uncaught exception': "throw new Error('boom')",
    'a worker that returns': 'WORKER',
    'a worker that is terminated': 'WORKER_TERMINATED',
    'SIGKILL (nothing can run: the name stays)': "process.kill(process.pid, 'SIGKILL')",
  }
  const make = `
    const mine = SharedMemory.create(null, 4096, { unlinkOnClose: true })
    const kept = SharedMemory.create(null, 4096)
    console.log(mine.name + ' ' + kept.name)`
  for (const [how, ending] of Object.entries(endings)) {
    const body = ending.startsWith('WORKER')
      ? `
      const { Worker } = await import('node:worker_threads')
      const w = new Worker(${JSON.stringify(`
        const { SharedMemory } = require(${JSON.stringify(`${ROOT}/dist/index.js`)})
        const { parentPort } = require('node:worker_threads')
        const mine = SharedMemory.create(null, 4096, { unlinkOnClose: true })
        const kept = SharedMemory.create(null, 4096)
        parentPort.postMessage(mine.name + ' ' + kept.name)
        ${ending === 'WORKER_TERMINATED' ? 'setInterval(() => {}, 1000)' : ''}`)}, { eval: true })
      const names = await new Promise((r) => w.once('message', r))
      ${ending === 'WORKER_TERMINATED' ? 'await w.terminate()' : "await new Promise((r) => w.once('exit', r))"}
      // The worker is gone and this process lives on: its names must be gone already.
      const fs = await import('node:fs')
      const [mine, kept] = names.split(' ')
      console.log(names + ' ' + fs.existsSync('/dev/shm' + mine) + ' ' + fs.existsSync('/dev/shm' + kept))`
      : `${make}
      ${ending}`
    const r = await snippet(body)
    const [mine, kept, mineWhileAlive, keptWhileAlive] = r.stdout.trim().split(' ')
    t.regex(mine ?? '', /^\//, `${how}: ${r.stderr}`)
    t.teardown(() => {
      for (const n of [mine, kept]) {
        try {
          SharedMemory.unlink(n!)
        } catch {}
      }
    })
    if (mineWhileAlive !== undefined) {
      t.is(mineWhileAlive, 'false', `${how}: removed when the worker ended, while its process lives`)
      t.is(keptWhileAlive, 'true', how)
    }
    const killed = how.startsWith('SIGKILL')
    t.is(fs.existsSync(`/dev/shm${mine}`), killed, how)
    t.true(fs.existsSync(`/dev/shm${kept}`), `${how}: a name without unlinkOnClose stays`)
  }
})

test('anonymous memory handed to a worker by its descriptor: both map the same pages (the README way to share a region)', async (t) => {
  const { Worker } = await import('node:worker_threads')
  const shm = SharedMemory.anonymous(pageSize)
  shm.write('from main')
  const w = new Worker(
    `const { SharedMemory } = require(${JSON.stringify(`${ROOT}/dist/index.js`)})
     const { workerData, parentPort } = require('node:worker_threads')
     const r = SharedMemory.fromFd(workerData)
     parentPort.postMessage(r.read(0, 9).toString())
     r.write('from work')
     r.close()`,
    { eval: true, workerData: shm.fd },
  )
  t.is(await new Promise((r) => w.once('message', r)), 'from main')
  await new Promise((r) => w.once('exit', r))
  t.is(shm.read(0, 9).toString(), 'from work')
  shm.close()
})

test('resize grows and shrinks named and anonymous objects: the old buffer is cut off, other processes see the new size', async (t) => {
  const name = `/mapshare-resize-${process.pid}`
  const shm = SharedMemory.create(name, 2 * pageSize, { unlinkOnClose: true })
  t.teardown(() => shm.close())
  shm.write('kept across resizes', 0)
  const old = shm.buffer
  shm.resize(4 * pageSize)
  t.is(shm.length, 4 * pageSize)
  t.is(fs.statSync(`/dev/shm${name}`).size, 4 * pageSize)
  t.is(shm.read(0, 19).toString(), 'kept across resizes')
  t.is(old.subarray(0, 4).toString(), '\0\0\0\0', 'the old buffer is cut off (zeros)')
  shm.write('at the far end', 3 * pageSize)
  const seen = await snippet(
    `const other = SharedMemory.open(process.argv[2])
     console.log(other.length, other.read(3 * pageSize, 14).toString())
     other.close()`,
    { args: [name] },
  )
  t.is(seen.stdout.trim(), `${4 * pageSize} at the far end`, seen.stderr)
  shm.resize(pageSize)
  t.is(fs.statSync(`/dev/shm${name}`).size, pageSize)
  t.is(shm.read(0, 19).toString(), 'kept across resizes')
  t.throws(() => shm.read(pageSize, 1), { code: 'ERR_OUT_OF_RANGE' })

  // Anonymous memory keeps its descriptor (its number may have been handed out already).
  const anon = SharedMemory.anonymous(pageSize)
  const fd = anon.fd
  anon.write('memfd')
  anon.resize(3 * pageSize)
  t.is(anon.fd, fd)
  t.is(anon.length, 3 * pageSize)
  const again = SharedMemory.fromFd(fd)
  t.is(again.length, 3 * pageSize, 'the object itself grew')
  t.is(again.read(0, 5).toString(), 'memfd')
  again.resize(2 * pageSize) // through the caller's descriptor
  t.is(SharedMemory.fromFd(fd).length, 2 * pageSize)
  again.close()
  anon.close()
})

test('resize refuses what it cannot resize: read-only, closed, and a name that now names another object', async (t) => {
  const name = `/mapshare-resize-stale-${process.pid}`
  const shm = SharedMemory.create(name, pageSize)
  t.teardown(() => {
    try {
      SharedMemory.unlink(name)
    } catch {}
  })
  const ro = SharedMemory.open(name, { readonly: true })
  t.throws(() => ro.resize(2 * pageSize), { code: 'ERR_MAPSHARE_NOT_RESIZABLE' })
  ro.close()
  t.throws(() => ro.resize(2 * pageSize), { code: 'ERR_MAPSHARE_CLOSED' })
  t.throws(() => shm.resize(0), { code: 'EINVAL' }) // as mmap says of an empty mapping
  t.throws(() => shm.resize(-1 as never), { code: 'ERR_OUT_OF_RANGE' })
  // Another process unlinks the name and makes a new object under it: ours cannot be reached by
  // name any more, and the new one must not be resized in its place.
  const r = await snippet(
    `SharedMemory.unlink(process.argv[2])
     SharedMemory.create(process.argv[2], 4096).close()`,
    { args: [name] },
  )
  t.is(r.status, 0, r.stderr)
  t.like(
    t.throws(() => shm.resize(2 * pageSize)),
    { code: 'ESTALE' },
  )
  t.is(fs.statSync(`/dev/shm${name}`).size, pageSize, "the other process's object kept its size")
  t.is(shm.length, pageSize, 'ours is still mapped as it was')
  shm.close()
})
