// The portable smoke suite: what every platform and runtime must do (run by the release workflow on
// macOS and Windows, and by `npm run test:runtimes` under other Node versions and Bun).
import test from 'ava'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  Channel,
  closeCutsOffViews,
  ftok,
  MmapFile,
  pageSize,
  SharedMemory,
  ShmSegment,
} from '../src-js/index.ts'

const entry = path.resolve('dist/index.js')
const caged = process.env.MAPSHARE_NO_EXTERNAL_BUFFERS === '1'

test('smoke: a file written by one process through a mapping is read by another', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-smoke-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'shared.bin')
  const region = MmapFile.open(file, { flags: 'w+', size: pageSize })
  region.write('smoke test')
  region.flush()
  const code = `const { MmapFile } = require(${JSON.stringify(entry)}); const r = MmapFile.open(${JSON.stringify(file)}); process.stdout.write(r.read(0, 10).toString()); r.close()`
  const child = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' })
  t.is(child.stderr, '')
  t.is(child.stdout, 'smoke test')
  region.close()
})

test('smoke: anonymous memory and named shared memory', (t) => {
  const anon = MmapFile.anonymous(pageSize)
  t.is(anon.write('abc'), 3)
  t.is(anon.read(0, 3).toString(), 'abc')
  anon.close()
  const name = `mapshare-smoke-${process.pid}`
  const shm = SharedMemory.create(name, pageSize)
  const other = SharedMemory.open(name)
  shm.write('named')
  t.is(other.read(0, 5).toString(), 'named')
  other.close()
  shm.close()
  SharedMemory.unlink(name)
})

test('smoke: buffer is zero-copy where external buffers are allowed', (t) => {
  const region = MmapFile.anonymous(pageSize)
  if (caged) {
    t.throws(() => region.buffer, { code: 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' })
  } else {
    region.buffer.write('direct')
    t.is(region.read(0, 6).toString(), 'direct')
    const view = region.buffer.subarray(1)
    region.close()
    t.is(view.length, pageSize - 1) // never dangling
    // Cut off the memory: it reads zeros (Windows: the view is replaced in its placeholder). Where
    // Windows has no placeholders (Wine 8), the view stays mapped until collected, as documented.
    t.is(view[0], closeCutsOffViews ? 0 : 'i'.charCodeAt(0))
  }
  region.close()
})

test('smoke: System V exists on POSIX systems and says so clearly elsewhere', (t) => {
  if (process.platform === 'win32') {
    t.throws(() => ShmSegment.create('private', 64), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
    t.throws(() => ftok('.', 1), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
    return
  }
  const seg = ShmSegment.create('private', 64)
  seg.write('sysv')
  t.is(seg.read(0, 4).toString(), 'sysv')
  t.is(seg.stat().nattch, 1)
  seg.remove()
  seg.detach()
  t.true(ftok('.', 1) > 0)
})

test('smoke: a channel between two mappings of named shared memory; closed, it says so', (t) => {
  const name = `mapshare-smoke-ch-${process.pid}`
  const shm = SharedMemory.create(name, 256 + 4096)
  const other = SharedMemory.open(name)
  const tx = Channel.create(shm)
  const rx = Channel.open(other)
  t.true(tx.trySend('copied'))
  const room = tx.tryReserve(8)!
  room.buffer.write('in place')
  room.commit()
  t.is(String(rx.tryReceive()), 'copied')
  t.is(String(rx.tryPeek()), 'in place')
  rx.release()
  t.is(rx.tryReceive(), null)
  t.like(rx.stats(), { sent: 2, received: 2, used: 0 })
  other.close()
  // Every platform: ERR_MAPSHARE_CLOSED (on Windows the old views still map the memory: the channel
  // asks the region, not its views, whether it is open).
  t.throws(() => rx.tryReceive(), { code: 'ERR_MAPSHARE_CLOSED' })
  t.throws(() => rx.stats(), { code: 'ERR_MAPSHARE_CLOSED' })
  t.true(tx.trySend('still open'))
  shm.close()
  t.throws(() => tx.trySend('x'), { code: 'ERR_MAPSHARE_CLOSED' })
  SharedMemory.unlink(name)
})
