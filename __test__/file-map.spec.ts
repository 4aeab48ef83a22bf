import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { MmapFile, ftok, pageSize, allocationGranularity, c, struct } from '../src-js/index.ts'
import { fixture, run, start, waitForLine } from './helpers/spawn.ts'
import { mappingCount, tmpDir, tmpFile } from './helpers/tmp.ts'
import { runPeer } from './helpers/cc.ts'

const text = (buf: Buffer, start = 0, end = buf.length) => buf.toString('utf8', start, end)

test('pageSize and allocationGranularity are powers of two from the OS', (t) => {
  t.true(pageSize >= 4096 && (pageSize & (pageSize - 1)) === 0)
  t.true(allocationGranularity >= pageSize && allocationGranularity % pageSize === 0)
})

test("flags 'r' maps an existing file read-only; write() is refused", (t) => {
  const file = tmpFile(t, 'hello mapped world')
  const region = MmapFile.open(file)
  t.is(region.length, 18)
  t.is(text(region.buffer), 'hello mapped world')
  t.is(text(region.read(6, 6)), 'mapped')
  t.throws(() => region.write('x'), { code: 'ERR_MAPSHARE_READ_ONLY' })
  t.is(region.path, file)
  region.close()
})

test("flags 'r+' writes reach the file; 'w+' creates with size and mode 0o600", (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'new.bin')
  const created = MmapFile.open(file, { flags: 'w+', size: 8192 })
  t.is(created.length, 8192)
  t.is(fs.statSync(file).size, 8192)
  t.is(fs.statSync(file).mode & 0o777, 0o600)
  t.true(created.buffer.every((b) => b === 0))
  t.is(created.write('written through write()', 10), 23)
  created.buffer.write('and through buffer', 4000)
  created.close()
  const disk = fs.readFileSync(file)
  t.is(text(disk, 10, 33), 'written through write()')
  t.is(text(disk, 4000, 4018), 'and through buffer')

  const rw = MmapFile.open(file, { flags: 'r+' })
  rw.buffer[0] = 0x41
  rw.close()
  t.is(fs.readFileSync(file)[0], 0x41)

  const custom = path.join(dir, 'custom.bin')
  const old = process.umask(0)
  try {
    MmapFile.open(custom, { flags: 'w+', size: 1, mode: 0o640 }).close()
  } finally {
    process.umask(old)
  }
  t.is(fs.statSync(custom).mode & 0o777, 0o640)
})

test("'w+' truncates an existing file; without size it is refused before touching the file", (t) => {
  const file = tmpFile(t, 'precious data')
  t.throws(() => MmapFile.open(file, { flags: 'w+' }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.is(fs.readFileSync(file, 'utf8'), 'precious data')
  const region = MmapFile.open(file, { flags: 'w+', size: 4 })
  t.deepEqual([...region.buffer], [0, 0, 0, 0])
  region.close()
})

test('size grows a file with ftruncate and the new bytes are mapped and readable (seed 001)', (t) => {
  const file = tmpFile(t, 'abc')
  const region = MmapFile.open(file, { flags: 'r+', size: 3 * pageSize + 5 })
  t.is(region.length, 3 * pageSize + 5)
  t.is(text(region.buffer, 0, 3), 'abc')
  t.is(region.buffer[3 * pageSize + 4], 0)
  region.buffer[3 * pageSize + 4] = 7
  region.close()
  const disk = fs.readFileSync(file)
  t.is(disk.length, 3 * pageSize + 5)
  t.is(disk[3 * pageSize + 4], 7)
  t.throws(() => MmapFile.open(file, { size: 10 }), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('a shared write in one process is seen by another process and by this one, without flush', async (t) => {
  const file = tmpFile(t, Buffer.alloc(2 * pageSize))
  const mine = MmapFile.open(file, { flags: 'r+' })
  const writer = start(fixture('map-writer.ts'), [file, String(pageSize + 3), 'sent across processes'])
  await waitForLine(writer.child, /written/)
  // Another unrelated process reads it while the writer still holds its mapping.
  const reader = await run(fixture('map-reader.ts'), [file, String(pageSize + 3), '21'])
  t.is(reader.stderr, '')
  t.is(reader.stdout, 'sent across processes')
  // This process's own mapping sees it too, and so does read(2) of the file.
  t.is(text(mine.buffer, pageSize + 3, pageSize + 24), 'sent across processes')
  t.is(text(fs.readFileSync(file), pageSize + 3, pageSize + 24), 'sent across processes')
  writer.child.stdin!.end()
  const done = await writer.done
  t.is(done.status, 0, done.stderr)
  mine.close()
})

test('private: true is copy-on-write: writes stay in this process (seed 001 example 2)', async (t) => {
  const file = tmpFile(t, 'original contents')
  const priv = MmapFile.open(file, { flags: 'r+', private: true })
  priv.buffer.write('CHANGED!')
  t.is(priv.write('xx', 8), 2)
  t.is(text(priv.buffer), 'CHANGED!xxontents')
  t.is(fs.readFileSync(file, 'utf8'), 'original contents')
  const other = await run(fixture('map-reader.ts'), [file, '0', '17'])
  t.is(other.stdout, 'original contents')
  const shared = MmapFile.open(file)
  t.is(text(shared.buffer), 'original contents')
  shared.close()
  t.throws(() => priv.resize(100), { code: 'ERR_MAPSHARE_NOT_RESIZABLE' })
  priv.close()
  // 'r' + private gives a writable private copy of a read-only file.
  const roPriv = MmapFile.open(file, { private: true })
  t.is(roPriv.write('Z'), 1)
  t.is(text(roPriv.buffer, 0, 1), 'Z')
  roPriv.close()
  t.is(fs.readFileSync(file, 'utf8'), 'original contents')
})

test('any byte offset works: the view starts exactly at the byte asked for', (t) => {
  const content = Buffer.alloc(3 * pageSize + 100)
  for (let i = 0; i < content.length; i++) content[i] = i % 251
  const file = tmpFile(t, content)
  for (const offset of [0, 1, 1000, pageSize - 1, pageSize, pageSize + 1, 3 * pageSize + 99]) {
    const region = MmapFile.open(file, { offset })
    t.is(region.length, content.length - offset, `length at offset ${offset}`)
    t.true(region.buffer.equals(content.subarray(offset)), `bytes at offset ${offset}`)
    region.close()
  }
  const part = MmapFile.open(file, { offset: 5000, length: 10 })
  t.true(part.buffer.equals(content.subarray(5000, 5010)))
  part.close()
})

test('bad ranges and objects give clear errors, never a mapping past the end', (t) => {
  const file = tmpFile(t, Buffer.alloc(100))
  const err = t.throws(() => MmapFile.open(file, { offset: 100 }))!
  t.like(err, { code: 'EINVAL', syscall: 'mmap', path: file, errno: -22 })
  t.regex(err.message, /offset 100 is past the end of .* \(100 bytes\)/)
  t.like(
    t.throws(() => MmapFile.open(file, { offset: 5000 })),
    { code: 'EINVAL' },
  )
  t.like(
    t.throws(() => MmapFile.open(file, { length: 0 })),
    { code: 'EINVAL' },
  )
  const beyond = t.throws(() => MmapFile.open(file, { offset: 50, length: 51 }))!
  t.is((beyond as NodeJS.ErrnoException).code, 'EINVAL')
  t.regex(beyond.message, /goes past the end/)
  const empty = tmpFile(t, '')
  t.regex(t.throws(() => MmapFile.open(empty), { code: 'EINVAL' })!.message, /is empty/)
  t.like(
    t.throws(() => MmapFile.open(path.dirname(file))),
    { code: 'EISDIR' },
  )
  t.like(
    t.throws(() => MmapFile.open(path.join(path.dirname(file), 'missing'))),
    {
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
    },
  )
  t.like(
    t.throws(() => MmapFile.open(file, { offset: -1 })),
    { code: 'ERR_OUT_OF_RANGE', name: 'RangeError' },
  )
  t.like(
    t.throws(() => MmapFile.open(file, { offset: 1.5 })),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  t.like(
    t.throws(() => MmapFile.open(file, { offset: '1' as any })),
    {
      code: 'ERR_INVALID_ARG_TYPE',
      name: 'TypeError',
    },
  )
  t.like(
    t.throws(() => MmapFile.open(file, { flags: 'a' as any })),
    { code: 'ERR_INVALID_ARG_VALUE' },
  )
  // Before 0.3 the open flags were called mode: that spelling says where they went, and maps nothing.
  t.like(
    t.throws(() => MmapFile.open(file, { mode: 'r+' } as any)),
    {
      code: 'ERR_INVALID_ARG_TYPE',
      name: 'TypeError',
      message:
        'The "options.mode" argument must be of type number (the permission bits, as in fs.open; the open flags are options.flags). Received type string (\'r+\')',
    },
  )
  t.like(
    t.throws(() => MmapFile.open(file, { flags: 'r+', permissions: 0o600 } as any)),
    { code: 'ERR_INVALID_ARG_VALUE' },
  )
  t.like(
    t.throws(() => MmapFile.open(42 as any)),
    { code: 'ERR_INVALID_ARG_TYPE' },
  )
  t.like(
    t.throws(() => MmapFile.open('a\0b')),
    { code: 'ERR_INVALID_ARG_VALUE' },
  )
})

test('a descriptor opened read-only cannot be mapped shared-writable: EACCES (seed 004 Q2)', (t) => {
  const file = tmpFile(t, 'read only descriptor')
  const fd = fs.openSync(file, 'r')
  t.teardown(() => fs.closeSync(fd))
  const err = t.throws(() => MmapFile.fromFd(fd, { writable: true }))!
  t.like(err, { code: 'EACCES', syscall: 'mmap', errno: -13 })
  t.regex(err.message, /not open for writing/)
  const ro = MmapFile.fromFd(fd)
  t.is(text(ro.buffer), 'read only descriptor')
  ro.close()
})

test('JS writes into a read-only mapping never crash the process and never reach the file', async (t) => {
  const file = tmpFile(t, 'ABCDEFGH')
  const r = await run(fixture('readonly-write.ts'), [file])
  t.is(r.signal, null)
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), 'AAAAEFGH')
  t.is(fs.readFileSync(file, 'utf8'), 'ABCDEFGH')
})

test('the descriptor can be closed right after mapping; fromFd leaves it to the caller (seeds 001, 004 Q6)', (t) => {
  const file = tmpFile(t, 'descriptor test')
  const fd = fs.openSync(file, 'r+')
  const region = MmapFile.fromFd(fd, { writable: true })
  fs.closeSync(fd)
  region.buffer.write('D')
  t.is(text(region.buffer), 'Descriptor test')
  region.close()
  t.is(fs.readFileSync(file, 'utf8'), 'Descriptor test')

  const fd2 = fs.openSync(file, 'r')
  const r2 = MmapFile.fromFd(fd2, { offset: 11 })
  r2.close()
  t.is(fs.fstatSync(fd2).size, 15) // still open: closing the region did not close it
  fs.closeSync(fd2)
  t.like(
    t.throws(() => MmapFile.fromFd(fd2)),
    { code: 'EBADF' },
  )
  t.like(
    t.throws(() => MmapFile.fromFd(-1)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
})

test('flush and flushAsync sync a range or the whole region; bad ranges are refused', async (t) => {
  const file = tmpFile(t, Buffer.alloc(3 * pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  region.buffer.write('flushed', pageSize + 10)
  region.flush()
  region.flush(pageSize + 10, 7)
  await region.flushAsync()
  await region.flushAsync(pageSize, 1)
  t.is(text(fs.readFileSync(file), pageSize + 10, pageSize + 17), 'flushed')
  t.throws(() => region.flush(0, 3 * pageSize + 1), { code: 'ERR_OUT_OF_RANGE' })
  await t.throwsAsync(region.flushAsync(3 * pageSize + 1), { code: 'ERR_OUT_OF_RANGE' })
  region.buffer.write('at close', 0)
  const pending = region.flushAsync()
  region.close() // never waits for the pool: flushes itself, since a flushAsync is pending
  await pending
  t.is(text(fs.readFileSync(file), 0, 8), 'at close')
  await t.throwsAsync(region.flushAsync(), { code: 'ERR_MAPSHARE_CLOSED' }) // rejects, never throws
})

test('close() unmaps at once, cuts every view off the file, is idempotent, and later calls throw', (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize * 2, 3))
  const before = mappingCount(file)
  const region = MmapFile.open(file, { flags: 'r+' })
  t.is(mappingCount(file), before + 1)
  const buf = region.buffer
  t.is(region.buffer, buf) // same object every time
  const sub = buf.subarray(10, 20)
  const u32 = new Uint32Array(buf.buffer)
  const ab = buf.buffer
  region.close()
  t.is(mappingCount(file), before)
  t.true(region.closed)
  t.is(region.length, 0)
  // The views keep their lengths over inert zero-filled memory: nothing dangles, nothing reaches the file.
  t.is(buf.length, pageSize * 2)
  t.is(sub.length, 10)
  t.is(u32.length, pageSize / 2)
  t.is(ab.byteLength, pageSize * 2)
  t.true(buf.every((b) => b === 0))
  buf.fill(9)
  t.true(fs.readFileSync(file).every((b) => b === 3))
  t.notThrows(() => region.close())
  t.notThrows(() => region[Symbol.dispose]())
  for (const call of [
    () => region.buffer,
    () => region.read(),
    () => region.write('x'),
    () => region.flush(),
    () => region.advise('normal'),
    () => region.residency(),
    () => region.resize(10),
  ]) {
    t.throws(call, { code: 'ERR_MAPSHARE_CLOSED' })
  }
})

test('a `using` declaration closes the region', (t) => {
  const file = tmpFile(t, 'x')
  let buf: Buffer
  let region: MmapFile
  {
    using r = MmapFile.open(file) // closed by the end of this block, not by a call
    region = r
    buf = r.buffer
    t.is(buf[0], 0x78)
    t.false(r.closed)
  }
  t.true(region.closed)
  t.is(buf[0], 0) // cut off the file
})

test('regions that are never closed are unmapped once collected: no growth in mappings or fds', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = await run(fixture('forget-regions.ts'), [file, '20000'], {
    nodeArgs: ['--expose-gc'],
    timeout: 90_000,
  })
  t.is(r.status, 0, r.stderr)
  const { before, after, peakMaps } = JSON.parse(r.stdout)
  t.log(r.stdout.trim())
  t.is(before.maps, 0)
  t.true(peakMaps > 0, 'the loop did map the file')
  t.is(after.maps, 0, 'every mapping of the file is gone')
  t.true(after.fds <= before.fds + 2, `fds: ${before.fds} -> ${after.fds}`)
})

test('anonymous memory: private by default, shared on request, zero-filled', (t) => {
  const sharedAnon = () =>
    fs
      .readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((l) => l.includes('/dev/zero (deleted)')).length
  const before = sharedAnon()
  const priv = MmapFile.anonymous(3 * pageSize)
  t.is(priv.length, 3 * pageSize)
  t.true(priv.buffer.every((b) => b === 0))
  priv.buffer.fill(9)
  t.is(priv.read(pageSize, 1)[0], 9)
  t.is(sharedAnon(), before)
  const shared = MmapFile.anonymous(pageSize, { shared: true })
  t.is(sharedAnon(), before + 1) // MAP_SHARED|MAP_ANONYMOUS shows as /dev/zero (deleted)
  t.is(shared.write('shared'), 6)
  t.is(text(shared.buffer, 0, 6), 'shared')
  shared.close()
  priv.close()
  t.is(sharedAnon(), before)
  t.throws(() => MmapFile.anonymous(0), { code: 'EINVAL' })
  t.throws(() => MmapFile.anonymous(-5), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => MmapFile.anonymous(2 ** 52), { code: 'ENOMEM' })
  t.throws(() => MmapFile.anonymous(undefined as any), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('a worker thread maps the same file and sees the main thread writes, and back', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  region.buffer.write('from main thread')
  const worker = new Worker(fixture('worker.ts'), { workerData: { file, length: 16 } })
  const seen = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  t.is(seen, 'from main thread')
  t.is(text(region.buffer, 100, 111), 'from worker')
  region.close()
})

test('resize grows and shrinks the file, remaps, and cuts the old buffer off the file', (t) => {
  const file = tmpFile(t, 'twelve bytes')
  const region = MmapFile.open(file, { flags: 'r+' })
  const old = region.buffer
  region.resize(3 * pageSize)
  t.is(old[0], 0)
  old[1] = 0x41 // a late write: reaches nothing
  t.is(region.buffer[1], 0x77)
  t.is(region.length, 3 * pageSize)
  t.is(fs.statSync(file).size, 3 * pageSize)
  t.is(text(region.buffer, 0, 12), 'twelve bytes')
  region.buffer.write('end', 3 * pageSize - 3)
  region.resize(6)
  t.is(fs.readFileSync(file, 'utf8'), 'twelve')
  t.is(text(region.buffer), 'twelve')
  t.throws(() => region.resize(0), { code: 'EINVAL' })
  t.is(text(region.buffer), 'twelve')
  region.close()

  const withOffset = tmpFile(t, 'head:body')
  const tail = MmapFile.open(withOffset, { flags: 'r+', offset: 5 })
  tail.resize(8)
  t.is(fs.statSync(withOffset).size, 13)
  t.is(text(tail.buffer, 0, 4), 'body')
  tail.close()
  const ro = MmapFile.open(withOffset)
  t.throws(() => ro.resize(5), { code: 'ERR_MAPSHARE_NOT_RESIZABLE' })
  ro.close()
})

test('resize finds the same file again: a replaced path or a closed fromFd descriptor is refused', (t) => {
  const file = tmpFile(t, 'original')
  const region = MmapFile.open(file, { flags: 'r+' })
  fs.renameSync(file, file + '.old')
  fs.writeFileSync(file, 'an impostor')
  t.like(
    t.throws(() => region.resize(100)),
    { code: 'ESTALE', path: file },
  )
  t.is(fs.readFileSync(file, 'utf8'), 'an impostor') // untouched
  t.is(text(region.buffer), 'original') // still mapped as before
  region.close()

  const fd = fs.openSync(file, 'r+')
  const viaFd = MmapFile.fromFd(fd, { writable: true })
  viaFd.resize(20)
  t.is(fs.fstatSync(fd).size, 20)
  fs.closeSync(fd)
  t.like(
    t.throws(() => viaFd.resize(30)),
    { code: 'EBADF' },
  )
  viaFd.close()
})

test('mapping keeps no descriptor open: thousands of unclosed writable regions do not exhaust fds', (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const fds = () => fs.readdirSync('/proc/self/fd').length
  const before = fds()
  const kept: MmapFile[] = []
  for (let i = 0; i < 3000; i++) kept.push(MmapFile.open(file, { flags: 'r+' }))
  // Other tests in this file run concurrently and open a few pipes; 3000 held descriptors would show.
  t.true(fds() <= before + 20, `fds ${before} -> ${fds()}`)
  for (const r of kept) r.close()
})

test('read, readInto and write copy in and out with range checks', (t) => {
  const region = MmapFile.anonymous(64)
  t.is(region.write(Buffer.from([1, 2, 3]), 10), 3)
  t.is(region.write(new Uint16Array([0x0504]), 13), 2)
  t.deepEqual([...region.read(10, 5)], [1, 2, 3, 4, 5])
  t.is(region.read(64).length, 0)
  const target = new Uint8Array(8)
  t.is(region.readInto(target, 10), 8)
  t.deepEqual([...target.subarray(0, 5)], [1, 2, 3, 4, 5])
  t.is(region.readInto(new Float64Array(2), 60), 4) // only 4 bytes remain
  t.throws(() => region.write('x'.repeat(65)), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.write('ab', 63), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.read(65), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.read(0, 65), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => region.readInto({} as any), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => region.write(123 as any), { code: 'ERR_INVALID_ARG_TYPE' })
  // Copying a region onto itself (overlapping) is a memmove.
  t.is(region.write(region.buffer.subarray(10, 15), 11), 5)
  t.deepEqual([...region.read(10, 6)], [1, 1, 2, 3, 4, 5])
  region.close()
})

test('advise, lock/unlock and residency work on the mapping', (t) => {
  const file = tmpFile(t, Buffer.alloc(4 * pageSize, 1))
  const region = MmapFile.open(file, { populate: true })
  for (const advice of ['normal', 'random', 'sequential', 'willneed', 'dontneed'] as const) {
    t.notThrows(() => region.advise(advice), advice)
  }
  t.throws(() => region.advise('bogus' as any), { code: 'ERR_INVALID_ARG_VALUE' })
  region.lockMemory()
  const res = region.residency()
  t.is(res.pages, 4)
  t.is(res.resident, 4) // locked pages are resident
  t.is(res.map.length, 4)
  t.is(res.pageSize, pageSize)
  region.unlockMemory()
  t.is(region.residency(pageSize, 1).pages, 1)
  t.throws(() => region.residency(0, 4 * pageSize + 1), { code: 'ERR_OUT_OF_RANGE' })
  region.close()
})

test('without external buffers (Electron mode), buffer throws a clear error and copies still share', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = await run(fixture('no-external.ts'), [file], { env: { MAPSHARE_NO_EXTERNAL_BUFFERS: '1' } })
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout), { code: 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE', read: 'copied in' })
  t.is(text(fs.readFileSync(file), 0, 9), 'copied in')
})

test('copy methods on a file truncated by another process throw EFAULT instead of crashing', async (t) => {
  const file = tmpFile(t, Buffer.alloc(3 * pageSize, 0x61))
  const r = await run(fixture('truncated.ts'), [file])
  t.is(r.signal, null, 'no SIGBUS')
  t.is(r.status, 0, r.stderr)
  const codes = JSON.parse(r.stdout)
  t.like(codes, {
    read: 'EFAULT',
    readAll: 'EFAULT',
    readInto: 'EFAULT',
    write: 'EFAULT',
    privateRead: 'EFAULT',
    firstPage: 'ok',
    lock: 'EFAULT',
    tryLock: 'EFAULT',
    unlock: 'EFAULT',
    load: 'EFAULT',
    add: 'EFAULT',
    compareExchange: 'EFAULT',
    store64: 'EFAULT',
    wait: 'EFAULT',
    notify: 'EFAULT',
    lockAsync: 'EFAULT',
    waitAsync: 'EFAULT',
    wordOnFirstPage: 'ok',
  })
  t.regex(codes.message, /not backed by storage \(another process truncated the file/)
})

test('a direct load from a truncated page through buffer still ends in SIGBUS (documented), not a hang', async (t) => {
  const file = tmpFile(t, Buffer.alloc(3 * pageSize, 0x61))
  const r = await run(fixture('truncated.ts'), [file, 'touch'], { timeout: 20_000 })
  t.is(r.signal, 'SIGBUS')
  t.regex(r.stdout, /"read":"EFAULT"/) // the copy methods before it did recover
})

test('interop with C (seed 004): struct { int a; char b[64]; } in a mapped file, both directions', (t) => {
  const file = path.join(tmpDir(t), 'mmap_temp_file')
  runPeer('file_seed004', ['write', file, '10', 'Hello World'])
  const Data = struct('Data', { a: c.i32, b: c.char(64) }) // the seed's struct, laid out as C does
  const region = MmapFile.open(file, { flags: 'r+' })
  t.is(region.length, Data.size) // sizeof(Data), from C
  const data = Data.at(region)
  t.is(data.a, 10)
  t.is(data.b, 'Hello World')
  data.a = -77
  data.b = 'from node'
  t.is(runPeer('file_seed004', ['read', file]).trim(), 'a = -77, b = from node')
  region.close()
})

test('openAsync, lockAsync and adviseAsync run off the event loop; their errors reject', async (t) => {
  const file = tmpFile(t, Buffer.alloc(4 * pageSize, 9))
  const region = await MmapFile.openAsync(file, { populate: true })
  t.true(region instanceof MmapFile)
  t.is(region.read(0, 1)[0], 9)
  t.is(region.path, file)
  await region.adviseAsync('willneed')
  await region.lockMemoryAsync().then(
    () => region.unlockMemory(),
    (e: NodeJS.ErrnoException) => t.true(['EPERM', 'ENOMEM', 'EAGAIN'].includes(e.code!), e.message),
  )
  await t.throwsAsync(region.adviseAsync('often' as never), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(MmapFile.openAsync(file + '.missing'), { code: 'ENOENT' })
  await t.throwsAsync(MmapFile.openAsync(1 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  region.close()
  await t.throwsAsync(region.adviseAsync('normal'), { code: 'ERR_MAPSHARE_CLOSED' })
  await t.throwsAsync(region.lockMemoryAsync(), { code: 'ERR_MAPSHARE_CLOSED' })
})

test('resizeAsync: grows and shrinks off the event loop; the region stays usable until it settles', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize, 7))
  const r = MmapFile.open(file, { flags: 'r+', populate: true })
  for (let i = 0; i < 20; i++) r.store(0, i) // past the fast path's warm-up
  const grow = r.resizeAsync(64 * pageSize)
  // Pending: the old mapping and the file's size are untouched, and the region works.
  t.is(r.length, pageSize)
  t.is(fs.statSync(file).size, pageSize)
  r.store(4, 42)
  t.is(r.load(0), 19)
  t.is(await grow, undefined)
  t.is(r.length, 64 * pageSize)
  t.is(fs.statSync(file).size, 64 * pageSize)
  t.is(r.load(4), 42)
  r.write('far end', 64 * pageSize - 7)
  t.is(text(fs.readFileSync(file), 64 * pageSize - 7), 'far end')
  await r.resizeAsync(2 * pageSize)
  t.is(r.length, 2 * pageSize)
  t.is(fs.statSync(file).size, 2 * pageSize)
  t.like(
    t.throws(() => r.load(3 * pageSize)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  t.is(r.load(4), 42)
  r.close()
})

test('resizeAsync: close() before it settles rejects with ERR_MAPSHARE_CLOSED and leaves the file as it was', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = MmapFile.open(file, { flags: 'r+' })
  const pending = r.resizeAsync(16 * pageSize)
  r.close()
  await t.throwsAsync(pending, { code: 'ERR_MAPSHARE_CLOSED' })
  t.is(fs.statSync(file).size, pageSize)
})

test('resizeAsync: a resize whose promise never gets to swap (its worker ends first) leaves no mapping behind', async (t) => {
  if (process.platform !== 'linux') return t.pass('counts mappings in /proc/self/maps')
  const file = tmpFile(t, Buffer.alloc(pageSize))
  // The worker's promises never run their callbacks, so the swap after the pool's work never happens:
  // the mapping the pool made ready must go with the worker's environment.
  const code = `
    const { MmapFile } = require(${JSON.stringify(path.resolve('dist/index.js'))})
    const { parentPort } = require('node:worker_threads')
    const r = MmapFile.open(${JSON.stringify(file)}, { flags: 'r+' })
    Promise.prototype.then = function () { return this }
    r.resizeAsync(16 * ${pageSize})
    setTimeout(() => parentPort.postMessage('done'), 300)`
  for (let i = 0; i < 3; i++) {
    const w = new Worker(code, { eval: true })
    await new Promise((resolve) => w.once('message', resolve))
    await w.terminate()
  }
  t.is(mappingCount(file), 0)
  t.is(fs.statSync(file).size, pageSize) // nothing was swapped in: the file keeps its size
})

test('resizeAsync: bad arguments and regions that cannot resize reject (never throw)', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = MmapFile.open(file, { flags: 'r+' })
  for (const bad of [-1, 0.5, 'x', 0]) {
    const p = r.resizeAsync(bad as number)
    t.true(p instanceof Promise)
    await t.throwsAsync(p, {
      code: bad === 'x' ? 'ERR_INVALID_ARG_TYPE' : bad === 0 ? 'EINVAL' : 'ERR_OUT_OF_RANGE',
    })
  }
  const anon = MmapFile.anonymous(pageSize, { shared: true })
  await t.throwsAsync(anon.resizeAsync(2 * pageSize), { code: 'ERR_MAPSHARE_NOT_RESIZABLE' })
  const readOnly = MmapFile.open(file)
  await t.throwsAsync(readOnly.resizeAsync(2 * pageSize), { code: 'ERR_MAPSHARE_NOT_RESIZABLE' })
  readOnly.close()
  anon.close()
  r.close()
  await t.throwsAsync(r.resizeAsync(2 * pageSize), { code: 'ERR_MAPSHARE_CLOSED' })
  t.is(fs.statSync(file).size, pageSize)
})

test('resizeAsync: two in flight both settle; the last to settle sets the size', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = MmapFile.open(file, { flags: 'r+' })
  const order: number[] = []
  await Promise.all(
    [8, 32].map((pages) => r.resizeAsync(pages * pageSize).then(() => order.push(pages * pageSize))),
  )
  t.is(order.length, 2)
  t.is(r.length, order[1])
  t.is(fs.statSync(file).size, order[1])
  r.close()
})

test('paths as fs takes them: a string, a Buffer or a file: URL; anything else in Node wording', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'with space é.bin')
  fs.writeFileSync(file, Buffer.from('hello'))
  const url = pathToFileURL(file) // percent-encodes the space and the é
  t.regex(url.href, /%20/)
  for (const p of [file, Buffer.from(file), url]) {
    const r = MmapFile.open(p)
    t.is(r.read().toString(), 'hello', String(p))
    t.is(r.path, file, 'the path is reported as a string')
    r.close()
  }
  const r = await MmapFile.openAsync(url, { flags: 'r+' })
  r.write('J')
  r.close()
  t.is(fs.readFileSync(file, 'utf8'), 'Jello')
  t.is(ftok(url, 1), ftok(file, 1))
  t.is(ftok(Buffer.from(file), 1), ftok(file, 1))
  const bad: [unknown, string, string][] = [
    [new URL('https://example.com/x'), 'ERR_INVALID_URL_SCHEME', 'TypeError'],
    [new URL('file://elsewhere/tmp/x'), 'ERR_INVALID_FILE_URL_HOST', 'TypeError'],
    [new URL('file:///tmp/a%2Fb'), 'ERR_INVALID_FILE_URL_PATH', 'TypeError'],
    [Buffer.from([0x2f, 0xff, 0xfe]), 'ERR_INVALID_ARG_VALUE', 'TypeError'],
    [42, 'ERR_INVALID_ARG_TYPE', 'TypeError'],
    [new Uint16Array(4), 'ERR_INVALID_ARG_TYPE', 'TypeError'],
    [null, 'ERR_INVALID_ARG_TYPE', 'TypeError'],
  ]
  for (const [p, code, name] of bad) {
    const err = t.throws(() => MmapFile.open(p as string)) as Error & { code?: string }
    t.is(err.code, code, String(p))
    t.is(err.name, name, String(p))
  }
  const wrong = t.throws(() => MmapFile.open(42 as unknown as string)) as Error
  t.regex(
    wrong.message,
    /must be of type string or an instance of Buffer or URL\. Received type number \(42\)/,
  )
})
