// Type test (checked by `tsc --noEmit` in `npm run lint`): what index.d.ts promises a consumer.
import {
  MmapFile,
  SharedMemory,
  ShmSegment,
  type MapshareErrorCode,
  type Mutex,
  type Region,
  c,
  Channel,
  type ChannelStats,
  type Reservation,
  struct,
} from '../src-js/index.ts'

export function consumer(file: MmapFile, shm: SharedMemory, seg: ShmSegment): unknown[] {
  const lock: Mutex = file.mutex(0) // typed Mutex on every class, never any
  const regions: Region[] = [file, shm, seg]
  const code: MapshareErrorCode = 'ERR_MAPSHARE_CLOSED'
  // @ts-expect-error not a code mapshare defines
  const wrong: MapshareErrorCode = 'ERR_MAPSHARE_NOPE'
  // @ts-expect-error paths are strings, Buffers or URLs, as fs takes them
  MmapFile.open(1)
  const byUrl: Promise<MmapFile> = MmapFile.openAsync(new URL('file:///tmp/x'))
  void byUrl
  void MmapFile.open(Buffer.from('/tmp/x'), { flags: 'r' })
  // @ts-expect-error mutex() returns a Mutex, which has no read()
  file.mutex(0).read()
  const n: number = file.readInto(Buffer.alloc(4)) // full-range counts are numbers
  // A copy is a Buffer over an ArrayBuffer (not a SharedArrayBuffer): Blob and WebCrypto take it.
  const fresh: Buffer<ArrayBuffer> = file.read()
  const over: Buffer<ArrayBuffer> = shm.buffer
  const blob = new Blob([fresh, over])
  const digest = crypto.subtle.digest('SHA-256', seg.read(0, 4))
  return [lock, regions, code, wrong, n, blob, digest]
}

export function locking(lock: Mutex): unknown[] {
  // Without a timeout, lock() returns once held: never null. With one, or tryLock(), it may be.
  const { ownerDied } = lock.lock()
  // @ts-expect-error a timeout may pass: null then
  const timed: { ownerDied: boolean } = lock.lock(10)
  {
    using held = lock.lock() // released at the end of this block
    void held.ownerDied
  }
  const maybe = lock.tryLock()
  if (maybe) maybe[Symbol.dispose]()
  return [ownerDied, timed]
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
  // Writes take what the runtime takes: an array-like for an array field, part of a nested struct.
  Outer.write(region, { xs: [1, 2, 3], inner: { tag: 1 }, two: [{ tag: 1 }, { value: 2 }] })
  // In place, assignments are typed as the field reads (Int32Array, a whole struct): the README says so
  // and points to write(), which takes plain arrays and partial structs.
  // @ts-expect-error a plain array assigned in place
  o.xs = [1, 2, 3]
  // @ts-expect-error a partial struct assigned in place
  o.inner = { tag: 1 }
  o.xs = Int32Array.of(1, 2, 3)
  o.inner = { tag: 1, value: 2 }
  // @ts-expect-error a char field is a string
  Outer.write(region, { name: 5 })
  // @ts-expect-error field types come from c and struct only
  struct('s', { a: 5 })
  return [n, xs, name, v, w, t]
}

export async function channels(region: Region): Promise<unknown[]> {
  const ch: Channel = Channel.create(region, { byteOffset: 64, producers: 'many' })
  const opened: Channel = Channel.open(region, { byteOffset: 64 })
  // @ts-expect-error producers is 'single' or 'many'
  Channel.create(region, { producers: 'several' })
  // @ts-expect-error channels are made by Channel.create() and Channel.open()
  new Channel()
  const sent: boolean = ch.trySend('text')
  const later: Promise<boolean> = ch.sendAsync(new Uint8Array(4), {
    timeout: 10,
    signal: AbortSignal.timeout(5),
  })
  const copy: Buffer<ArrayBuffer> | null = ch.receive({ timeout: 1 })
  if (copy !== null) void new Blob([copy]) // a copy's ArrayBuffer is a plain one
  const n: number | null = ch.tryReceiveInto(Buffer.alloc(16))
  const stats: ChannelStats = ch.stats()
  const room: Reservation | null = ch.tryReserve(8)
  room?.commit(4)
  // @ts-expect-error a message is bytes or a string
  ch.trySend(5)
  for await (const m of opened) {
    const b: Buffer = m
    void b
  }
  return [sent, later, copy, n, stats.pending, room]
}
