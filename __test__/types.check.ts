// Type test (checked by `tsc --noEmit` in `npm run lint`): what index.d.ts promises a consumer.
import {
  MmapFile,
  SharedMemory,
  ShmSegment,
  type MapshareErrorCode,
  type Mutex,
  type Region,
  c,
  struct,
} from '../index.js'

export function consumer(file: MmapFile, shm: SharedMemory, seg: ShmSegment): unknown[] {
  const lock: Mutex = file.mutex(0) // typed Mutex on every class, never any
  const regions: Region[] = [file, shm, seg]
  const code: MapshareErrorCode = 'ERR_MAPSHARE_CLOSED'
  // @ts-expect-error not a code mapshare defines
  const wrong: MapshareErrorCode = 'ERR_MAPSHARE_NOPE'
  // @ts-expect-error paths are strings
  MmapFile.open(1)
  // @ts-expect-error mutex() returns a Mutex, which has no read()
  file.mutex(0).read()
  const n: number = file.readInto(Buffer.alloc(4)) // full-range counts are numbers
  return [lock, regions, code, wrong, n]
}

export function notConstructible(): unknown[] {
  return [
    // @ts-expect-error the classes are made by their factories only (new throws ERR_ILLEGAL_CONSTRUCTOR)
    new MmapFile(),
    // @ts-expect-error as above
    new SharedMemory(),
    // @ts-expect-error as above
    new ShmSegment(),
  ]
}

export function views(region: Region): unknown[] {
  const f: Float64Array = region.view(Float64Array, 8, 2) // the instance type of the constructor given
  const d: DataView = region.view(DataView)
  const b: BigInt64Array = region.view(BigInt64Array)
  // @ts-expect-error the view is the type asked for, not another
  const wrong: Int32Array = region.view(Float64Array)
  // @ts-expect-error only typed array constructors and DataView
  region.view(Array)
  return [f, d, b, wrong]
}

export function layouts(region: Region): unknown[] {
  const Inner = struct('inner', { tag: c.u8, value: c.f64 })
  const Outer = struct('outer', {
    n: c.i64,
    xs: c.array(c.i32, 3),
    name: c.char(4),
    inner: Inner,
    two: c.array(Inner, 2),
  })
  const o = Outer.at(region)
  const n: bigint = o.n
  const xs: Int32Array = o.xs
  const name: string = o.name
  const v: number = o.inner.value
  const w: number = o.two[1].tag
  // @ts-expect-error 64-bit integers are bigints
  o.n = 5
  // @ts-expect-error no such field
  o.missing = 1
  const plain = Outer.read(region)
  const t: number = plain.inner.tag
  return [n, xs, name, v, w, t]
}
