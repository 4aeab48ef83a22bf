// The one typed door to the addon: the only module that touches the raw binding. The public classes
// and functions are typed by the typings napi-rs generates from the Rust doc comments
// (binding/generated.d.ts); the private functions the JS layers call are typed here, once, and the
// private methods are taken off the classes' prototypes so that users cannot reach them.
import type * as Generated from './binding/generated.js'

// The lock's results as the JS layer hands them out (src-js/fast-path.ts): `using` releases the lock
// at the end of the scope, and a lock() without a timeout never returns null.
declare module './binding/generated.js' {
  interface LockResult extends Disposable {}
  interface Mutex {
    lock(): LockResult
  }
}
import * as workerThreads from 'node:worker_threads'
import { loadBinding } from './loader.ts'

/** A class the addon made: its static factories and its instances' type, but no `new` (it throws ERR_ILLEGAL_CONSTRUCTOR). */
export type Sealed<C extends abstract new (...args: never[]) => object> = Pick<C, keyof C> &
  (abstract new () => InstanceType<C>)

/** What the addon gives the fast path of one region: a Buffer over its memory that only mapshare's
 * JS layer sees, and whether plain copies through it are safe (the backing cannot shrink). */
export interface FastBuffer {
  readonly buffer: Buffer
  readonly copies: boolean
}

/** A settled `resizeAsync`'s prepared mapping, swapped in by `finishResize` on the JS thread. */
export type ResizeToken = number & { readonly __resizeToken: unique symbol }

/** The region methods `_atomic32`/`_atomic64` stand for. */
export type AtomicOp =
  'load' | 'store' | 'add' | 'sub' | 'and' | 'or' | 'xor' | 'exchange' | 'compareExchange'
/** What `wait` resolves with. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out'

/** The addon's private exports: by-handle forms of the region methods (a plain call costs less than a method call). */
interface PrivateExports {
  _atomic32(handle: number, op: number, byteOffset: unknown, a: unknown, b: unknown): number
  _atomic64(handle: number, op: number, byteOffset: unknown, a: unknown, b: unknown): bigint
  _readInto(handle: number, target: unknown, offset: unknown): number
  _write(handle: number, data: unknown, offset: unknown): number
  _read(handle: number, offset: unknown, length: unknown): Buffer
  _notify(handle: number, byteOffset: unknown, count: unknown): number
  /** An index into `_waitResults()`. */
  _wait(handle: number, byteOffset: unknown, expected: unknown, timeout: unknown): number
  /** The operations `_atomic32`/`_atomic64` take, by index (the addon's one table of these numbers). */
  _atomicOps(): string[]
  /** What `_wait` returns, by index. */
  _waitResults(): string[]
  _waitAsync(handle: number, byteOffset: unknown, expected: unknown, options: unknown): Promise<WaitResult>
  /** One lock attempt by region handle: 0 held by another thread, 1 taken, 2 taken from a dead owner. */
  _tryLock(handle: number, byteOffset: number): number
  _unlock(handle: number, byteOffset: number): void
  /** The calling thread's id as the lock word records it. */
  _threadId(): number
  /** Bun and Deno: waitAsync must not poll with their stand-ins for libuv's functions. */
  _uvRefused(): void
  /** Hands the addon `markAsUncloneable` (this thread's), which it applies to every region and Mutex it makes. */
  _setUncloneable(mark: unknown): void
  /** For the tests: a deliberate panic inside an operation on the region with this handle. */
  _panicInRegion(handle: number): void
  /** For the tests: a deliberate panic outside any region operation. */
  _panicAtBoundary(): void
  /** For the benchmark: an exported function that does nothing (the floor of a call). */
  _noop(): void
}

/** The private methods, as the regions' prototypes carry them until this module takes them off. */
interface PrivateMethods {
  _handle(this: object): number
  _fastPath(this: object): FastBuffer | null
  _finishResize(this: object, token: ResizeToken): void
}

type Binding = typeof Generated & PrivateExports
const binding = loadBinding() as Binding

// Bun and Deno export stand-ins for some of libuv's functions: waitAsync must not poll with them
// (it uses threads there instead).
if (process.versions.bun !== undefined || process.versions.deno !== undefined) binding._uvRefused()

/**
 * Node's `markAsUncloneable` (Node >= 22.10), or nothing: a marked object makes `structuredClone` and
 * `postMessage` throw a `DataCloneError` instead of arriving as `{}`. Regions and Mutexes are marked by
 * the addon as it makes them; the JS classes (Channel) mark themselves.
 */
export const markUncloneable: (object: object) => void = (() => {
  const mark = (workerThreads as { markAsUncloneable?: unknown }).markAsUncloneable
  if (typeof mark !== 'function') return () => {}
  binding._setUncloneable(mark)
  return mark as (object: object) => void
})()

type RegionClass = typeof Generated.MmapFile | typeof Generated.SharedMemory | typeof Generated.ShmSegment

/** One region class's private methods, taken off its prototype (each class unwraps only its own objects). */
export interface RegionPrivates {
  /** The region's number for the by-handle functions (throws for anything this class did not make). */
  handle(region: object): number
  /** The fast path's Buffer for `region`, or null where it has none. */
  fastPath(region: object): FastBuffer | null
  /** Swaps in the mapping a settled `resizeAsync` prepared (classes that can resize). */
  finishResize: ((region: object, token: ResizeToken) => void) | undefined
}

function take(
  Class: RegionClass,
  name: keyof PrivateMethods,
): ((this: object, ...args: never[]) => unknown) | undefined {
  const proto = Class.prototype as object
  const d = Object.getOwnPropertyDescriptor(proto, name)
  if (d === undefined || typeof d.value !== 'function') return undefined
  Reflect.deleteProperty(proto, name)
  return d.value as (this: object, ...args: never[]) => unknown
}

function privates(Class: RegionClass): RegionPrivates {
  const handle = take(Class, '_handle') as PrivateMethods['_handle'] | undefined
  const fastPath = take(Class, '_fastPath') as PrivateMethods['_fastPath'] | undefined
  const finish = take(Class, '_finishResize') as PrivateMethods['_finishResize'] | undefined
  if (handle === undefined || fastPath === undefined)
    throw new Error(`mapshare's addon lacks ${Class.name}'s private methods`)
  return {
    handle: (region) => Reflect.apply(handle, region, []),
    fastPath: (region) => Reflect.apply(fastPath, region, []),
    finishResize:
      finish === undefined ? undefined : (region, token) => Reflect.apply(finish, region, [token]),
  }
}

/** Each region class's private methods. */
export const mmapFilePrivates: RegionPrivates = privates(binding.MmapFile)
export const sharedMemoryPrivates: RegionPrivates = privates(binding.SharedMemory)
export const shmSegmentPrivates: RegionPrivates = privates(binding.ShmSegment)

/** The number `_atomic32`/`_atomic64` take for `op`, from the addon's own table. */
export function atomicOpCode(op: AtomicOp): number {
  const code = ATOMIC_OPS.indexOf(op)
  if (code < 0) throw new Error(`mapshare's addon has no atomic operation ${op}`)
  return code
}
const ATOMIC_OPS = binding._atomicOps()
/** What `_wait`'s numbers stand for, from the addon's own table. */
export const WAIT_RESULTS = binding._waitResults() as readonly WaitResult[]

export const atomic32 = binding._atomic32
/** For the tests only: deliberate panics (see src/self_test.rs). */
export const selfTest = {
  panicInRegion: binding._panicInRegion,
  panicAtBoundary: binding._panicAtBoundary,
  noop: binding._noop,
}
export const atomic64 = binding._atomic64
export const readIntoByHandle = binding._readInto
export const writeByHandle = binding._write
export const readByHandle = binding._read
export const notifyByHandle = binding._notify
export const waitByHandle = binding._wait
export const waitAsyncByHandle = binding._waitAsync
export const tryLockByHandle = binding._tryLock
export const unlockByHandle = binding._unlock

// The classes as the addon made them; regions.ts finishes them (receiver checks, fast path, inspect).
export type MmapFile = Generated.MmapFile
export type SharedMemory = Generated.SharedMemory
export type ShmSegment = Generated.ShmSegment
export type Mutex = Generated.Mutex
export type LockResult = Generated.LockResult
/** Any mapped region: the three classes share the whole region surface (`buffer`, `read`, `write`, atomics, ...). */
export type Region = MmapFile | SharedMemory | ShmSegment

export const NativeMmapFile: typeof Generated.MmapFile = binding.MmapFile
export const NativeSharedMemory: typeof Generated.SharedMemory = binding.SharedMemory
export const NativeShmSegment: typeof Generated.ShmSegment = binding.ShmSegment
export const NativeMutex: typeof Generated.Mutex = binding.Mutex
export const ftok: typeof Generated.ftok = binding.ftok
export const pageSize: typeof Generated.pageSize = binding.pageSize
export const allocationGranularity: typeof Generated.allocationGranularity = binding.allocationGranularity
export const closeCutsOffViews: typeof Generated.closeCutsOffViews = binding.closeCutsOffViews
