// The README's platform table, row by row, as this platform does it: run by `npm test` on Linux and by
// `npm run test:windows` with the Windows binary under Wine (and by the release workflow on Windows).
// Each test asserts the behaviour promised for the platform it runs on; none is skipped.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  MmapFile,
  SharedMemory,
  ShmSegment,
  ftok,
  pageSize,
  allocationGranularity,
  closeCutsOffViews,
} from '../src-js/index.ts'

const entry = path.resolve('dist/index.js')
const windows = process.platform === 'win32'
const linux = process.platform === 'linux'
const caged = process.env.MAPSHARE_NO_EXTERNAL_BUFFERS === '1'
const UNAVAILABLE = { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' }

function tmpDir(t: { teardown: (f: () => void) => void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-platform-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Runs `code` (CommonJS, with `mapshare` loaded) in a new process; returns its stdout. */
function child(code: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(
    process.execPath,
    ['-e', `const mapshare = require(${JSON.stringify(entry)});\n${code}`],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  )
  return { stdout: r.stdout, stderr: r.stderr, status: r.status }
}

test('sizes: the page size and the allocation granularity', (t) => {
  t.true(pageSize >= 4096 && (pageSize & (pageSize - 1)) === 0)
  t.is(allocationGranularity, windows ? 65536 : pageSize)
})

test('files: write through the mapping, flush, read back from another process and from fs', async (t) => {
  const file = path.join(tmpDir(t), 'data.bin')
  const r = MmapFile.open(file, { flags: 'w+', size: 3 * pageSize })
  r.write('first page')
  r.write('last page', 2 * pageSize + 100)
  r.store(8 * 4, 0x01020304)
  r.flush()
  await r.flushAsync(0, pageSize)
  const seen = child(
    `const r = mapshare.MmapFile.open(${JSON.stringify(file)}); process.stdout.write(r.read(0, 10) + '|' + r.read(${2 * pageSize + 100}, 9) + '|' + r.load(32)); r.close()`,
  )
  t.is(seen.stderr, '')
  t.is(seen.stdout, `first page|last page|${0x01020304}`)
  r.close()
  const bytes = fs.readFileSync(file)
  t.is(bytes.length, 3 * pageSize)
  t.is(bytes.subarray(0, 10).toString(), 'first page')
  // A mapping from an offset that is not a multiple of the allocation granularity: mapshare aligns it.
  const part = MmapFile.open(file, { offset: 2 * pageSize + 100, length: 9 })
  t.is(part.read().toString(), 'last page')
  t.like(
    t.throws(() => part.write('x')),
    { code: 'ERR_MAPSHARE_READ_ONLY' },
  )
  part.close()
})

test('files: errors carry a code (and the path)', (t) => {
  const dir = tmpDir(t)
  const missing = path.join(dir, 'missing.bin')
  t.like(
    t.throws(() => MmapFile.open(missing)),
    { code: 'ENOENT', path: missing },
  )
  const empty = path.join(dir, 'empty.bin')
  fs.writeFileSync(empty, '')
  t.like(
    t.throws(() => MmapFile.open(empty)),
    { code: 'EINVAL' },
  )
  fs.writeFileSync(path.join(dir, 'small.bin'), 'abc')
  t.like(
    t.throws(() => MmapFile.open(path.join(dir, 'small.bin'), { offset: 10 })),
    { code: 'EINVAL' },
  )
  t.like(
    t.throws(() => MmapFile.open(dir)),
    { code: windows ? 'EACCES' : 'EISDIR' },
  )
  t.like(
    t.throws(() => MmapFile.anonymous(-1)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
})

test('named shared memory between two processes: create, open elsewhere, write back, names', (t) => {
  const name = `mapshare-platform-${process.pid}`
  const shm = SharedMemory.create(name, 2 * pageSize)
  t.like(
    t.throws(() => SharedMemory.create(name, pageSize)),
    { code: 'EEXIST' },
  )
  shm.write('from the parent')
  const out = child(`
    const s = mapshare.SharedMemory.open(${JSON.stringify(name)})
    process.stdout.write(s.read(0, 15).toString())
    s.write('from the child', ${pageSize})
    s.add(${pageSize + 64}, 5)
    s.close()`)
  t.is(out.stderr, '')
  t.is(out.stdout, 'from the parent')
  t.is(shm.read(pageSize, 14).toString(), 'from the child')
  t.is(shm.load(pageSize + 64), 5)
  t.is(shm.name, `/${name}`)
  SharedMemory.unlink(name)
  if (windows) {
    // Windows keeps a named mapping while any handle or view is open: unlink is a no-op.
    const again = SharedMemory.open(name)
    t.is(again.read(0, 15).toString(), 'from the parent')
    again.close()
  } else {
    t.like(
      t.throws(() => SharedMemory.open(name)),
      { code: 'ENOENT' },
    )
  }
  shm.close()
  t.like(
    t.throws(() => SharedMemory.open(`mapshare-never-made-${process.pid}`)),
    { code: 'ENOENT' },
  )
})

test('anonymous shared memory: a descriptor to pass on POSIX, none on Windows', (t) => {
  const anon = SharedMemory.anonymous(pageSize)
  anon.store(0, 7)
  t.is(anon.load(0), 7)
  if (windows) {
    t.like(
      t.throws(() => anon.fd),
      UNAVAILABLE,
    )
    t.like(
      t.throws(() => SharedMemory.fromFd(0)),
      UNAVAILABLE,
    )
    t.like(
      t.throws(() => MmapFile.fromFd(0)),
      UNAVAILABLE,
    )
  } else {
    t.is(typeof anon.fd, 'number')
    const again = SharedMemory.fromFd(anon.fd)
    t.is(again.load(0), 7)
    t.is(again.fd, null, "fromFd's descriptor stays the caller's")
    again.close()
  }
  anon.close()
  if (!windows) t.throws(() => anon.fd, { code: 'ERR_MAPSHARE_CLOSED' })
})

test('advise, lock, residency', async (t) => {
  const r = MmapFile.anonymous(4 * pageSize, { shared: true })
  r.write(Buffer.alloc(4 * pageSize, 1))
  for (const advice of ['normal', 'random', 'sequential', 'willneed'] as const) {
    r.advise(advice)
    await r.adviseAsync(advice, 0, pageSize)
  }
  // Transparent huge pages: the kernel takes the advice where it has them (EINVAL where it was built
  // without them); other systems have no such advice.
  const thp = fs.existsSync('/sys/kernel/mm/transparent_hugepage')
  for (const advice of ['dontneed', 'hugepage', 'nohugepage'] as const) {
    if (windows)
      t.like(
        t.throws(() => r.advise(advice)),
        UNAVAILABLE,
      )
    else if (advice === 'dontneed') {
      r.advise(advice) // shared pages keep their contents
      t.is(r.read(0, 1)[0], 1)
    } else if (linux && thp) r.advise(advice)
    else if (linux)
      t.like(
        t.throws(() => r.advise(advice)),
        { code: 'EINVAL' },
      )
    else
      t.like(
        t.throws(() => r.advise(advice)),
        UNAVAILABLE,
      )
  }
  t.like(
    t.throws(() => r.advise('sometimes' as never)),
    { code: 'ERR_INVALID_ARG_VALUE' },
  )
  r.lockMemory(0, pageSize)
  await r.lockMemoryAsync(pageSize, pageSize)
  r.unlockMemory(0, 2 * pageSize)
  const res = r.residency()
  t.is(res.pages, 4)
  t.is(res.pageSize, pageSize)
  t.is(res.map.length, 4)
  t.true(res.resident >= 1 && res.resident <= 4)
  t.is(
    res.map.reduce((a, b) => a + b, 0),
    res.resident,
  )
  r.close()
})

test('System V segments and ftok: POSIX only', (t) => {
  if (windows) {
    t.like(
      t.throws(() => ShmSegment.create('private', pageSize)),
      UNAVAILABLE,
    )
    t.like(
      t.throws(() => ftok('.', 1)),
      UNAVAILABLE,
    )
  } else {
    const seg = ShmSegment.create('private', pageSize)
    seg.store(0, 3)
    t.is(seg.load(0), 3)
    seg.remove()
    seg.close()
    t.is(typeof ftok('.', 1), 'number')
  }
})

test('wait/notify/waitAsync and the lock: on every platform (cross-process cases in cross-process.spec.ts)', async (t) => {
  const r = MmapFile.anonymous(pageSize, { shared: true })
  t.is(r.wait(0, 0, 1), 'timed-out')
  t.is(await r.waitAsync(0, 1, { timeout: 1 }), 'not-equal')
  // Within one process, a waiter on another thread is woken (Windows: an unnamed mapping's words
  // are named by this process and their address).
  const pending = r.waitAsync(0, 0, { timeout: 20_000 })
  r.store(0, 1)
  r.notify(0)
  t.is(await pending, 'ok')
  const m = r.mutex(8)
  t.deepEqual(m.lock(), { ownerDied: false })
  // The word names the holder: the thread id on Linux (robust list), the process id elsewhere.
  if (!linux) t.is(r.load(8), process.pid)
  m.unlock()
  const priv = MmapFile.anonymous(pageSize)
  t.like(
    t.throws(() => priv.mutex(8).lock()),
    { code: 'EINVAL' },
    'a lock needs a shared mapping',
  )
  priv.close()
  r.close()
})

test('atomics, copies and buffer on every platform, before and after the fast path starts', (t) => {
  const r = MmapFile.anonymous(pageSize, { shared: true })
  for (let i = 0; i < 50; i++) {
    t.is(r.add(0, 2), 2 * i)
    t.is(r.add64(8, 1n), BigInt(i))
    t.is(r.write(Buffer.from([i]), 100 + i), 1)
  }
  t.is(r.compareExchange(0, 100, 7), 100)
  t.is(r.load(0), 7)
  const out = Buffer.alloc(50)
  t.is(r.readInto(out, 100), 50)
  t.deepEqual(
    [...out],
    Array.from({ length: 50 }, (_, i) => i),
  )
  if (caged)
    t.like(
      t.throws(() => r.buffer),
      { code: 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' },
    )
  else t.is(new Int32Array(r.buffer.buffer, r.buffer.byteOffset, 1)[0], 7)
  r.close()
  t.like(
    t.throws(() => r.load(0)),
    { code: 'ERR_MAPSHARE_CLOSED' },
  )
})

test('close() lets go of the file and the name at once, while Buffers still point there (they read zeros)', (t) => {
  if (!windows) t.true(closeCutsOffViews, 'Linux and macOS cut views off')
  if (!closeCutsOffViews) {
    // Windows without placeholders (before 10 1803; Wine 8): a closed view stays mapped until its
    // last Buffer is collected, reading what it read (the README says so).
    // (A named object, not a file: a file would stay undeletable, failing the test's cleanup.)
    const r = SharedMemory.create(`mapshare-kept-${process.pid}`, pageSize)
    r.write('kept')
    const view = r.buffer.subarray(0, 4)
    r.close()
    t.is(view.toString(), 'kept')
    return
  }
  const file = path.join(tmpDir(t), 'release.bin')
  const r = MmapFile.open(file, { flags: 'w+', size: pageSize })
  r.write('held')
  const view = caged ? null : r.buffer.subarray(0, 16)
  r.close()
  // Windows refuses to delete or rename a file while a view of it is mapped (EPERM): there is none.
  fs.renameSync(file, `${file}.old`)
  fs.unlinkSync(`${file}.old`)
  t.false(fs.existsSync(`${file}.old`))
  if (view !== null) t.is(view[0], 0)
  // A read-only mapping (two views: the shared one and the Buffer's copy-on-write one) too.
  fs.writeFileSync(file, 'read only')
  const ro = MmapFile.open(file)
  const roView = caged ? null : ro.buffer.subarray(0, 9)
  t.is(ro.read(0, 9).toString(), 'read only')
  ro.close()
  fs.unlinkSync(file)
  if (roView !== null) t.is(roView[0], 0)
  if (windows) {
    // A name lives while any view or handle of it does: after close(), nothing is left of it.
    const name = `mapshare-release-${process.pid}`
    const shm = SharedMemory.create(name, pageSize)
    shm.write('named')
    const named = caged ? null : shm.buffer.subarray(0, 5)
    shm.close()
    t.like(
      t.throws(() => SharedMemory.open(name)),
      { code: 'ENOENT' },
    )
    if (named !== null) t.is(named[0], 0)
  }
})

test('files: resize grows the file, and shrinks it where the OS allows', (t) => {
  const file = path.join(tmpDir(t), 'resize.bin')
  const r = MmapFile.open(file, { flags: 'w+', size: pageSize })
  for (let i = 0; i < 50; i++) r.store(0, i) // past the fast path's warm-up, where there is one
  r.resize(4 * pageSize)
  r.write('end', 4 * pageSize - 3)
  t.is(fs.statSync(file).size, 4 * pageSize)
  if (windows) {
    // Windows refuses to shrink a mapped file: the region stays as it was.
    t.like(
      t.throws(() => r.resize(2 * pageSize)),
      UNAVAILABLE,
    )
    t.is(fs.statSync(file).size, 4 * pageSize)
    t.is(r.read(4 * pageSize - 3, 3).toString(), 'end')
  } else {
    r.resize(2 * pageSize)
    t.is(fs.statSync(file).size, 2 * pageSize)
    t.like(
      t.throws(() => r.load(3 * pageSize)),
      { code: 'ERR_OUT_OF_RANGE' },
    )
  }
  t.is(r.load(0), 49)
  r.close()
  fs.rmSync(file) // nothing keeps it open or mapped (Windows refuses to delete a mapped file)
  t.false(fs.existsSync(file))
})
