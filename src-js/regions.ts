// The public classes, finished: the fast path's methods, a receiver check on every other method and
// getter (Node's ERR_INVALID_THIS, where V8 would say only "Illegal invocation"), and
// `util.inspect` output that says what a region is.
import { isMutex, mutexState, type RegionState } from './brand.ts'
import { invalidThis } from './errors.ts'
import { installMutex, installRegion } from './fast-path.ts'
import {
  mmapFilePrivates,
  NativeMmapFile,
  NativeMutex,
  NativeSharedMemory,
  NativeShmSegment,
  sharedMemoryPrivates,
  shmSegmentPrivates,
  type Region,
  type RegionPrivates,
  type Sealed,
} from './native.ts'
import type * as Native from './native.ts'

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown

/** Wraps every prototype method and accessor not in `done` with a receiver check. */
function guard(
  Class: { readonly name: string; readonly prototype: object },
  genuine: (o: unknown) => boolean,
  done: ReadonlySet<unknown>,
): void {
  const proto = Class.prototype
  const check = (fn: AnyFunction): AnyFunction =>
    function (this: unknown, ...args: unknown[]): unknown {
      if (!genuine(this)) throw invalidThis(Class.name)
      return Reflect.apply(fn, this, args)
    }
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor') continue
    const d = Object.getOwnPropertyDescriptor(proto, key)
    if (d === undefined) continue
    if (typeof d.value === 'function') {
      if (done.has(d.value)) continue
      const fn = d.value as AnyFunction
      const guarded = check(fn)
      Object.defineProperty(guarded, 'name', { value: fn.name })
      Object.defineProperty(guarded, 'length', { value: fn.length })
      Object.defineProperty(proto, key, { ...d, value: guarded })
    } else if (d.get !== undefined) {
      const accessor: PropertyDescriptor = { ...d, get: check(d.get as AnyFunction) }
      if (d.set !== undefined) accessor.set = check(d.set as AnyFunction)
      Object.defineProperty(proto, key, accessor)
    }
  }
}

const inspectKey = Symbol.for('nodejs.util.inspect.custom')

/** `util.inspect(region)` shows what the region is, not `MmapFile {}`. */
function inspectable(
  Class: { readonly name: string; readonly prototype: object },
  keys: readonly string[],
): void {
  Object.defineProperty(Class.prototype, inspectKey, {
    value(
      this: Record<string, unknown>,
      _depth: number,
      options: unknown,
      inspect?: (v: unknown, o: unknown) => string,
    ) {
      const shown: Record<string, unknown> = {}
      for (const key of keys) {
        try {
          shown[key] = this[key]
        } catch {
          // a getter of a closed region
        }
      }
      return `${Class.name} ${inspect ? inspect(shown, options) : JSON.stringify(shown)}`
    },
  })
}

/** The receiver checks of the three region classes, and their fast-path states. */
const regionChecks: Array<(value: unknown) => boolean> = []
const regionStates: Array<(value: unknown) => RegionState | undefined> = []

function finishRegion<C extends { readonly name: string; readonly prototype: object }>(
  Class: C,
  privates: RegionPrivates,
  shown: readonly string[],
): C {
  const { installed, genuine, stateOf } = installRegion(Class, privates)
  regionStates.push(stateOf)
  guard(Class, genuine, installed)
  inspectable(Class, shown)
  regionChecks.push(genuine)
  return Class
}

/** The fast-path state of a region (for the tests of the fast path; not exported by the package). */
export function fastPathState(value: unknown): RegionState | undefined {
  for (const stateOf of regionStates) {
    const s = stateOf(value)
    if (s !== undefined) return s
  }
  return undefined
}

/** Whether `value` is a region the addon made (not a Proxy, copy or look-alike of one). */
export function isRegion(value: unknown): value is Region {
  return regionChecks.some((genuine) => genuine(value))
}

/** A memory-mapped file, or anonymous memory (see the README). */
export type MmapFile = Native.MmapFile
export const MmapFile: Sealed<typeof NativeMmapFile> = finishRegion(NativeMmapFile, mmapFilePrivates, [
  'path',
  'length',
  'closed',
])
/** POSIX shared memory (Windows: a named file mapping), or anonymous shared memory with an fd. */
export type SharedMemory = Native.SharedMemory
export const SharedMemory: Sealed<typeof NativeSharedMemory> = finishRegion(
  NativeSharedMemory,
  sharedMemoryPrivates,
  ['name', 'fd', 'length', 'closed'],
)
/** A System V shared memory segment. */
export type ShmSegment = Native.ShmSegment
export const ShmSegment: Sealed<typeof NativeShmSegment> = finishRegion(
  NativeShmSegment,
  shmSegmentPrivates,
  ['id', 'length', 'closed'],
)

guard(NativeMutex, isMutex, installMutex(NativeMutex))

/** `util.inspect(mutex)`: where its word is and what it holds (owner thread id, sleepers). */
Object.defineProperty(NativeMutex.prototype, inspectKey, {
  value(this: unknown, _depth: number, options: unknown, inspect?: (v: unknown, o: unknown) => string) {
    const m = mutexState(this)
    const byteOffset = m === undefined || m === null ? undefined : m.index * 4
    const shown: Record<string, unknown> = { byteOffset }
    if (m !== undefined && m !== null && byteOffset !== undefined) {
      try {
        const word = m.of.load(byteOffset)
        shown.held = (word & 0x3fffffff) !== 0
        if (shown.held) shown.owner = word & 0x3fffffff
        shown.waiters = (word & 0x80000000) !== 0
      } catch {
        shown.closed = true // the region was closed
      }
    }
    return `Mutex ${inspect ? inspect(shown, options) : JSON.stringify(shown)}`
  },
})
/** A robust lock in a region's 32-bit word, made by `region.mutex(byteOffset)`. */
export type Mutex = Native.Mutex
export const Mutex: Sealed<typeof NativeMutex> = NativeMutex
