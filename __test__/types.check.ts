// Type test (checked by `tsc --noEmit` in `npm run lint`): what index.d.ts promises a consumer.
import {
  MmapFile,
  SharedMemory,
  ShmSegment,
  type MapshareErrorCode,
  type Mutex,
  type Region,
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
