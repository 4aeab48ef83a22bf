// The shared region surface on every kind of region. npm test runs this file twice: normally, and
// with MAPSHARE_NO_EXTERNAL_BUFFERS=1, as under Electron's memory cage.
import test from 'ava'
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { MmapFile, pageSize } from '../src-js/index.ts'
import { fixture } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'
import { caged, kinds, lockAvailable } from './helpers/kinds.ts'

for (const [kind, make] of Object.entries(kinds)) {
  test(`${kind}: copy methods share memory between two mappings`, (t) => {
    const { region, reopen } = make(t, 2 * pageSize)
    const other = reopen()
    t.is(region.write('across mappings', pageSize - 3), 15)
    t.is(other.read(pageSize - 3, 15).toString(), 'across mappings')
    const target = new Uint8Array(6)
    t.is(other.readInto(target, pageSize + 6), 6)
    t.is(Buffer.from(target).toString(), 'ppings')
    region.flush()
    region.advise('willneed')
    t.is(region.residency(0, pageSize).pages, 1)
    if (other !== region) other.close()
    region.close()
    t.throws(() => region.read(), { code: 'ERR_MAPSHARE_CLOSED' })
  })

  test(`${kind}: atomics, wait/notify and a Mutex work (with or without external buffers)`, async (t) => {
    const { region, reopen } = make(t, pageSize)
    const other = reopen()
    t.is(region.add(0, 5), 0)
    t.is(other.compareExchange(0, 5, 6), 5)
    t.is(region.load64(8), 0n)
    t.is(region.wait(0, 0), 'not-equal')
    const woken = region.waitAsync(4, 0, { timeout: 5000 })
    for (let i = 0; i < 200 && other.notify(4) === 0; i++) await new Promise((r) => setTimeout(r, 5))
    t.is(await woken, 'ok')
    if (lockAvailable) {
      const m = region.mutex(16)
      t.deepEqual(m.lock(), { ownerDied: false })
      // The same lock word through the other mapping: this thread already holds it.
      t.throws(() => other.mutex(16).tryLock(), { code: 'EDEADLK' })
      m.unlock()
    } else {
      t.throws(() => region.mutex(16), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
    }
    if (other !== region) other.close()
    region.close()
  })

  test(`${kind}: buffer is zero-copy, or a clear error without external buffers`, (t) => {
    const { region } = make(t, pageSize)
    if (caged) {
      const err = t.throws(() => region.buffer) as NodeJS.ErrnoException
      t.is(err.code, 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE')
      t.regex(err.message, /read\(\), readInto\(\) and write\(\)/)
    } else {
      const buf = region.buffer
      buf.write('zero copy', 100)
      t.is(region.read(100, 9).toString(), 'zero copy')
      const view = new Uint32Array(buf.buffer, 0, 4)
      const sub = buf.subarray(1, 5)
      region.close()
      // Cut off the memory, never dangling: same lengths, inert zero-filled pages.
      t.is(view.length, 4)
      t.is(sub.length, 4)
      t.is(buf.length, pageSize)
      t.true(buf.every((b) => b === 0))
    }
    region.close()
  })
}

// These are about views over `buffer`, which does not exist under the cage (that is tested above), so
// the caged run does not register them; the normal run does.
const external = (caged ? () => {} : test) as typeof test

external('views held in a worker are cut off the file when the worker closes its region', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const worker = new Worker(fixture('worker-views.ts'), { workerData: { file } })
  const lengths = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  t.deepEqual(lengths, [pageSize, 6, pageSize / 4, pageSize, pageSize, true, 1])
  t.is(fs.readFileSync(file)[0], 5) // the late write reached nothing but the inert page
})

external(
  'a Buffer that outlives its collected region keeps the mapping alive (no dangling memory)',
  async (t) => {
    const file = tmpFile(t, Buffer.alloc(pageSize, 7))
    let collected = false
    const registry = new FinalizationRegistry(() => (collected = true))
    const make = () => {
      const region = MmapFile.open(file, { flags: 'r+' }) // dropped at once: only its Buffer is kept
      registry.register(region, 'region')
      return region.buffer
    }
    const buf = make()
    const gc = (globalThis as { gc?: () => void }).gc
    t.truthy(gc, 'the tests run with --expose-gc')
    for (let i = 0; i < 50 && !collected; i++) {
      gc!()
      await new Promise((r) => setTimeout(r, 10))
    }
    t.true(collected, 'the region object itself was collected')
    t.is(buf.length, pageSize)
    t.true(buf.every((b) => b === 7))
    buf[0] = 9
    t.is(fs.readFileSync(file)[0], 9) // still the live shared mapping
  },
)

external('resize cuts every view made before it off the file', (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize, 4))
  const region = MmapFile.open(file, { flags: 'r+' })
  const buf = region.buffer
  const views = [buf.subarray(1), new Float64Array(buf.buffer)]
  const dv = new DataView(buf.buffer)
  region.resize(2 * pageSize)
  t.deepEqual(
    views.map((v) => v.length),
    [pageSize - 1, pageSize / 8],
  )
  t.is(dv.getUint8(0), 0) // inert memory: readable, zero, never the file
  dv.setUint8(0, 9)
  t.is(region.buffer.length, 2 * pageSize)
  t.is(region.buffer[0], 4)
  region.close()
})

test(`mode: ${caged ? 'no external buffers (Electron cage)' : 'external buffers'}`, (t) => {
  // The addon itself, not the variable, says which mode this run tests.
  const region = MmapFile.anonymous(pageSize)
  if (caged) t.throws(() => region.buffer, { code: 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' })
  else t.is(region.buffer.length, pageSize)
  region.close()
})

test('structuredClone and postMessage refuse regions, Mutexes and Channels (DataCloneError) where Node has markAsUncloneable', async (t) => {
  const { markAsUncloneable } = (await import('node:worker_threads')) as { markAsUncloneable?: unknown }
  const { Channel, SharedMemory, ShmSegment } = await import('../src-js/index.ts')
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const shm = SharedMemory.anonymous(2 * pageSize)
  const seg = process.platform === 'win32' ? null : ShmSegment.create('private', pageSize)
  t.teardown(() => seg?.remove())
  const objects: Record<string, object> = {
    'MmapFile.open': MmapFile.open(file, { flags: 'r+' }),
    'MmapFile.openAsync': await MmapFile.openAsync(file),
    'MmapFile.anonymous': MmapFile.anonymous(pageSize),
    'SharedMemory.anonymous': shm,
    ...(seg ? { 'ShmSegment.create': seg } : {}),
    Channel: Channel.create(shm),
    ...(lockAvailable ? { Mutex: MmapFile.anonymous(pageSize, { shared: true }).mutex(0) } : {}),
  }
  const { port1, port2 } = new MessageChannel()
  t.teardown(() => port1.close())
  for (const [what, object] of Object.entries(objects)) {
    if (typeof markAsUncloneable === 'function') {
      t.throws(() => structuredClone(object), { name: 'DataCloneError' }, what)
      t.throws(() => port1.postMessage(object), { name: 'DataCloneError' }, what)
    } else {
      // Node 20 has no way to refuse: the clone is an empty object (the README says so).
      t.deepEqual(structuredClone(object), {}, what)
    }
  }
  port2.close()
  t.log(`markAsUncloneable: ${typeof markAsUncloneable} (Node ${process.versions.node})`)
})

/** Where `region.sharedArrayBuffer` must work: Node 22+ (current releases export the Node-API function), not caged. */
const sabExpected = !caged && Number(process.versions.node.split('.')[0]) >= 22

test('sharedArrayBuffer: one SharedArrayBuffer over the mapping, shared with a worker without a copy, zeros everywhere after close', async (t) => {
  const region = MmapFile.anonymous(64 * 1024, { shared: true })
  if (!sabExpected) {
    t.like(
      t.throws(() => region.sharedArrayBuffer),
      { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' },
    )
    region.close()
    return
  }
  const sab = region.sharedArrayBuffer
  t.true(sab instanceof SharedArrayBuffer)
  t.is(sab, region.sharedArrayBuffer, 'the same object on every access')
  t.is(sab.byteLength, region.length)
  const a = new Int32Array(sab)
  Atomics.store(a, 0, 41)
  t.is(region.load(0), 41, 'the region sees what JS Atomics wrote')
  region.store(4, 5)
  t.is(Atomics.load(a, 1), 5)
  // A worker gets the same memory by postMessage (no transfer list, no copy) and writes to it.
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads')
     parentPort.once('message', (sab) => {
       const a = new Int32Array(sab)
       Atomics.add(a, 0, 1)
       parentPort.postMessage('added')
       parentPort.once('message', () => parentPort.postMessage([Atomics.load(a, 0), Atomics.load(a, 1)]))
     })`,
    { eval: true },
  )
  const next = () => new Promise((r) => w.once('message', r))
  w.postMessage(sab)
  t.is(await next(), 'added')
  t.is(region.load(0), 42, "the worker's write is in the mapping")
  region.close()
  w.postMessage('read')
  t.deepEqual(await next(), [0, 0], "after close() the worker's SharedArrayBuffer reads zeros")
  t.is(Atomics.load(a, 0), 0, 'and so does this thread’s')
  await w.terminate()
})

test('sharedArrayBuffer: a 1 GiB region handed to 4 workers costs no copy; resize makes a new one', async (t) => {
  if (!sabExpected) return t.pass('no SharedArrayBuffer here (see the test above)')
  const GiB = 1024 ** 3
  const region = MmapFile.anonymous(GiB, { shared: true })
  const before = process.memoryUsage().rss
  const workers = Array.from(
    { length: 4 },
    (_, i) =>
      new Worker(
        `const { parentPort } = require('node:worker_threads')
         parentPort.once('message', (sab) => {
           new Uint8Array(sab)[${i} * 256 * 1024 * 1024] = ${i + 1} // one page each
           parentPort.postMessage(sab.byteLength)
         })`,
        { eval: true },
      ),
  )
  const lengths = await Promise.all(
    workers.map((w) => {
      const got = new Promise((r) => w.once('message', r))
      w.postMessage(region.sharedArrayBuffer)
      return got
    }),
  )
  t.deepEqual(lengths, [GiB, GiB, GiB, GiB])
  for (let i = 0; i < 4; i++) t.is(region.read(i * 256 * 1024 * 1024, 1)[0], i + 1)
  const grown = process.memoryUsage().rss - before
  // Four workers cost their own heaps (tens of MiB); one copy of the region would cost 1 GiB.
  t.true(grown < GiB / 4, `RSS grew by ${Math.round(grown / 2 ** 20)} MiB`)
  await Promise.all(workers.map((w) => w.terminate()))
  region.close()

  const file = tmpFile(t, Buffer.alloc(pageSize))
  const r = MmapFile.open(file, { flags: 'r+' })
  const first = r.sharedArrayBuffer
  r.resize(2 * pageSize)
  t.not(r.sharedArrayBuffer, first, 'a resize makes a new SharedArrayBuffer over the new mapping')
  t.is(r.sharedArrayBuffer.byteLength, 2 * pageSize)
  t.is(first.byteLength, pageSize, 'the old one keeps its length and reads zeros')
  t.is(new Uint8Array(first)[0], 0)
  r.close()
})
