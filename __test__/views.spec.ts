// region.view(Type, byteOffset, length): typed arrays and DataViews over a region's memory.
import test from 'ava'
import { MmapFile, SharedMemory, ShmSegment } from '../src-js/index.ts'
import { caged, kinds } from './helpers/kinds.ts'
import { snippet } from './helpers/snippet.ts'
import { tmpFile } from './helpers/tmp.ts'

const pageSize = 4096
const types = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const

/** The error a call throws, as { code, name }. */
function thrown(fn: () => unknown): { code?: string; name?: string } | 'no error' {
  try {
    fn()
    return 'no error'
  } catch (e) {
    const err = e as { code?: string; name?: string }
    return { code: err.code, name: err.name }
  }
}

if (caged) {
  test('where external memory is forbidden, view() says so and points to the copy methods', (t) => {
    const r = MmapFile.anonymous(pageSize, { shared: true })
    const e = t.throws(() => r.view(Float64Array))
    t.is((e as { code?: string }).code, 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE')
    t.regex(e!.message, /readInto\(\)/)
    r.close()
  })
} else {
  for (const [kind, make] of Object.entries(kinds)) {
    test(`every view type reads and writes the memory of ${kind}, as read() and a second mapping see it`, (t) => {
      const { region, reopen } = make(t, 2 * pageSize)
      const other = reopen()
      for (const Type of types) {
        const size = Type.BYTES_PER_ELEMENT
        const v = region.view(Type, 64, 4)
        t.true(v instanceof Type)
        t.is(v.length, 4)
        t.is(v.byteLength, 4 * size)
        const one = (Type === BigInt64Array || Type === BigUint64Array ? 5n : 5) as never
        ;(v as unknown as { fill: (x: never) => void }).fill(one)
        const bytes = region.read(64, 4 * size)
        t.deepEqual(
          [...new Type(bytes.buffer as ArrayBuffer, bytes.byteOffset, 4)].map(String),
          Array(4).fill('5'),
          Type.name,
        )
        t.deepEqual([...other.view(Type, 64, 4)].map(String), Array(4).fill('5'), `${Type.name} elsewhere`)
      }
      const dv = region.view(DataView, 100, 8)
      t.true(dv instanceof DataView)
      dv.setFloat64(0, 1.5, true)
      t.is(region.read(100, 8).readDoubleLE(0), 1.5)
      // Defaults: from byteOffset 0, as many elements as fit.
      t.is(region.view(Float64Array).length, (2 * pageSize) / 8)
      t.is(region.view(Uint16Array, 10).length, (2 * pageSize - 10) / 2)
      t.is(region.view(DataView, 7).byteLength, 2 * pageSize - 7)
      if (other !== region) other.close()
      region.close()
    })
  }

  test('bad types, unaligned offsets and ranges past the end are coded errors', (t) => {
    const r = MmapFile.anonymous(pageSize, { shared: true })
    for (const bad of [Array, Buffer, Object, () => 0, 'Float64Array', undefined, null, 8, {}, ArrayBuffer])
      t.like(
        thrown(() => r.view(bad as never)),
        { code: 'ERR_INVALID_ARG_TYPE' },
        String(bad),
      )
    t.like(
      thrown(() => r.view(Float64Array, 4)),
      { code: 'ERR_MAPSHARE_UNALIGNED', name: 'RangeError' },
    )
    t.like(
      thrown(() => r.view(Int32Array, 2, 1)),
      { code: 'ERR_MAPSHARE_UNALIGNED', name: 'RangeError' },
    )
    t.like(
      thrown(() => r.view(Float64Array, pageSize + 8)),
      { code: 'ERR_OUT_OF_RANGE' },
    )
    t.like(
      thrown(() => r.view(Float64Array, 0, pageSize / 8 + 1)),
      { code: 'ERR_OUT_OF_RANGE' },
    )
    t.like(
      thrown(() => r.view(DataView, pageSize - 4, 5)),
      { code: 'ERR_OUT_OF_RANGE' },
    )
    t.like(
      thrown(() => r.view(Uint8Array, 0, 2 ** 64)),
      { code: 'ERR_OUT_OF_RANGE' },
    )
    for (const bad of [-8, 0.5, NaN, Infinity])
      t.like(
        thrown(() => r.view(Float64Array, bad)),
        { code: 'ERR_OUT_OF_RANGE' },
        String(bad),
      )
    t.like(
      thrown(() => r.view(Float64Array, '8' as never)),
      { code: 'ERR_INVALID_ARG_TYPE' },
    )
    // The edges are fine: an empty view at the end, the last element.
    t.is(r.view(Float64Array, pageSize).length, 0)
    t.is(r.view(Float64Array, pageSize - 8, 1).length, 1)
    r.close()
    t.like(
      thrown(() => r.view(Float64Array)),
      { code: 'ERR_MAPSHARE_CLOSED' },
    )
  })

  test('after close() or resize() a view reads zeros and writes go nowhere, like buffer', async (t) => {
    const r = await snippet(
      `
      const file = process.argv[2]
      const m = MmapFile.open(file, { flags: 'r+' })
      const v = m.view(Float64Array)
      v[0] = 42
      m.resize(8192)
      const after = [v[0], m.view(Float64Array)[0]]
      const w = m.view(Int32Array)
      m.close()
      w[1] = 7 // inert memory: no crash, no effect
      console.log(JSON.stringify([...after, w[0], w[1]]))
    `,
      { args: [tmpFile(t, Buffer.alloc(pageSize))] },
    )
    t.is(r.signal, null, r.stderr)
    t.is(r.status, 0, r.stderr)
    const [oldView, newView, closed0] = JSON.parse(r.stdout)
    t.is(newView, 42, 'the new mapping has the bytes')
    t.is(oldView, 0, 'the old view reads zeros')
    t.is(closed0, 0)
  })

  test('a view of a region larger than a Buffer can be covers any part of it (regions past 4 GiB)', async (t) => {
    const r = await snippet(
      `
      const size = 2 ** 32 + 2 * 4096
      const m = MmapFile.anonymous(size, { shared: true })
      const tail = m.view(Float64Array, size - 4096)
      tail[511] = 3.25
      const dv = m.view(DataView, 2 ** 32 + 8, 16)
      dv.setUint32(0, 0xdeadbeef)
      const far = m.view(Uint8Array, 4096, 16)
      far[0] = 9
      console.log(JSON.stringify([tail.length, m.read(size - 8, 8).readDoubleLE(0), m.read(2 ** 32 + 8, 4).readUInt32BE(0), m.read(4096, 1)[0]]))
      let code
      try { m.view(Uint8Array) } catch (e) { code = e.code }
      console.log(code ?? 'whole view made')
      m.close()
    `,
      { timeout: 60_000 },
    )
    t.is(r.signal, null, r.stderr)
    t.is(r.status, 0, r.stderr)
    const [first, second] = r.stdout.trim().split('\n')
    t.deepEqual(JSON.parse(first), [512, 3.25, 0xdeadbeef, 9])
    const max = (await import('node:buffer')).constants.MAX_LENGTH
    t.is(second, max >= 2 ** 32 + 2 * 4096 ? 'whole view made' : 'ERR_MAPSHARE_BUFFER_TOO_LARGE')
  })

  test('a global getter that closes the region while view() looks up the types gives ERR_MAPSHARE_CLOSED', async (t) => {
    const r = await snippet(`
      const m = MmapFile.anonymous(4096, { shared: true })
      const Original = Int8Array
      Object.defineProperty(globalThis, 'Int8Array', { configurable: true, get() { m.close(); return Original } })
      try { m.view(Float64Array); console.log('no error') } catch (e) { console.log(e.code) }
    `)
    t.is(r.signal, null, r.stderr)
    t.is(r.stdout.trim(), 'ERR_MAPSHARE_CLOSED')
  })

  test('a view written in one process is read through a view in another', async (t) => {
    const name = `/mapshare-view-${process.pid}`
    const shm = SharedMemory.create(name, pageSize)
    t.teardown(() => SharedMemory.unlink(name))
    const r = await snippet(
      `
      const m = SharedMemory.open(process.argv[2])
      const v = m.view(Float64Array, 8, 3)
      v.set([1.5, -2.25, 1e300])
      m.view(BigUint64Array, 0, 1)[0] = 2n ** 64n - 1n
      m.close()
    `,
      { args: [name] },
    )
    t.is(r.status, 0, r.stderr)
    t.deepEqual([...shm.view(Float64Array, 8, 3)], [1.5, -2.25, 1e300])
    t.is(shm.view(BigUint64Array, 0, 1)[0], 2n ** 64n - 1n)
    shm.close()
  })

  test('a read-only System V attachment refuses views (its pages fault on write)', (t) => {
    if (process.platform === 'win32') return t.pass('no System V on Windows')
    const seg = ShmSegment.create('private', pageSize)
    const ro = ShmSegment.fromId(seg.id, { readonly: true })
    t.like(
      thrown(() => ro.view(Uint8Array)),
      { code: 'ERR_MAPSHARE_NO_SAFE_VIEW' },
    )
    ro.close()
    seg.remove()
    seg.close()
  })
}
