// The fast path: atomics, small copies and the uncontended Mutex done in JavaScript on typed arrays
// over the region's own memory, with no native call (a Node-API method call costs ~20-50x an
// `Atomics.load`). The native methods stay the one source of truth: every call the fast path does
// not take exactly (unusual arguments, errors, read-only regions, runtimes without external
// buffers, contended locks) goes to them unchanged.
//
// What keeps it sound:
// - The typed arrays sit on a Buffer the addon makes for this layer alone (`_fastPath`), never handed
//   to users: nobody can detach, transfer or redefine it. It holds the mapping like any Buffer
//   (inert after close, never unmapped under it).
// - A region's state lives in a private field stamped on it when the addon made it (brand.ts): a
//   Proxy, a copy or `Object.create(MmapFile.prototype)` has none, and gets ERR_INVALID_THIS.
// - close(), detach() and dispose clear the state before the native call, resize() clears it around
//   the call, so a closed or resized region never takes the fast path (freezing it changes nothing).
// - Arguments are taken only when they are primitives of the right type and range, so no user code
//   (getters, valueOf) runs between the check and the access. Intrinsics are captured at load time.
// - Copies use it only where the backing cannot shrink (anonymous memory, System V segments): a
//   file or POSIX object another process truncates would fault (SIGBUS) in a plain copy, and the
//   native copy turns that into EFAULT.
import { types } from 'node:util'
import { mutexState, regionBrand, stampMutex, type MutexState, type RegionState } from './brand.ts'
import { invalidThis } from './errors.ts'
import { TID_MASK } from './lock-word.ts'
import { asyncWaitOptions, withOwnSignal, type AsyncWaitOptions } from './signals.ts'
import {
  atomicOpCode,
  atomic32,
  atomic64,
  notifyByHandle,
  tryLockByHandle,
  unlockByHandle,
  readByHandle,
  readIntoByHandle,
  WAIT_RESULTS,
  waitAsyncByHandle,
  waitByHandle,
  writeByHandle,
  type AtomicOp,
  type RegionPrivates,
  type WaitResult,
} from './native.ts'

const { isUint8Array } = types
const call = Function.prototype.call
const uncurry = <A extends unknown[], R>(fn: (...args: A) => R): ((self: unknown, ...args: A) => R) =>
  call.bind(fn) as unknown as (self: unknown, ...args: A) => R
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object
const getter = <R>(proto: object, key: string): ((self: unknown) => R) => {
  const get = Object.getOwnPropertyDescriptor(proto, key)?.get
  if (get === undefined) throw new Error(`no ${key} getter`)
  return uncurry(get as () => R)
}
const lengthOf = getter<number>(TypedArrayProto, 'length')
const bufferOf = getter<ArrayBuffer>(TypedArrayProto, 'buffer')
const setBytes = uncurry(Uint8Array.prototype.set as (array: ArrayLike<number>, offset?: number) => void)
const {
  load: aLoad,
  store: aStore,
  add: aAdd,
  sub: aSub,
  and: aAnd,
  or: aOr,
  xor: aXor,
  exchange: aExchange,
  compareExchange: aCompareExchange,
} = Atomics
const { apply, defineProperty } = Reflect
const allocUnsafeSlow = Buffer.allocUnsafeSlow
// A local name for the per-call check (an import is a property load on the module object).
const mutexStateOf = mutexState

/** Native calls on a region before the fast path is set up: a region used a few times never pays for it. */
const WARM_UP = 8
/** Looks at a held lock's word in JS before the native lock sleeps. */
const SPIN = 64
/** `Atomics.pause` (a CPU spin-wait hint) where the runtime has it. */
const pause: () => void =
  typeof (Atomics as { pause?: () => void }).pause === 'function'
    ? (Atomics as unknown as { pause: () => void }).pause
    : () => {}
const MIN_I64 = -(2n ** 63n)
const MAX_I64 = 2n ** 63n - 1n

/** A new region's state (see brand.ts): no fast path until WARM_UP native calls. */
function newRegionState(fastPath: () => ReturnType<RegionPrivates['fastPath']>): RegionState {
  return {
    handle: -1,
    calls: 0,
    closed: false,
    len: 0,
    u8: null,
    i32: null,
    i64: null,
    copies: false,
    fastPath,
  }
}

function clear(s: RegionState): void {
  s.len = 0
  s.u8 = s.i32 = s.i64 = null
  s.copies = false
}

/** Counts a native call; after WARM_UP of them, asks the addon for the fast path's Buffer. */
function warm(s: RegionState): void {
  if (s.closed || s.i32 !== null || ++s.calls < WARM_UP || s.calls > WARM_UP) return
  const f = s.fastPath()
  if (f === null) return // this region has no fast path (calls stays above WARM_UP: never asked again)
  try {
    const ab = bufferOf(f.buffer)
    const len = lengthOf(f.buffer)
    const u8 = new Uint8Array(ab, 0, len)
    const i32 = new Int32Array(ab, 0, Math.floor(len / 4))
    const i64 = new BigInt64Array(ab, 0, Math.floor(len / 8))
    s.u8 = u8
    s.i64 = i64
    s.copies = f.copies === true
    s.len = len
    s.i32 = i32 // last: i32 !== null means the rest is set
  } catch {
    clear(s) // a runtime limit on typed arrays: stay native
  }
}

const isOff32 = (s: RegionState, o: unknown): o is number =>
  typeof o === 'number' && o % 4 === 0 && o >= 0 && o + 4 <= s.len
const isOff64 = (s: RegionState, o: unknown): o is number =>
  typeof o === 'number' && o % 8 === 0 && o >= 0 && o + 8 <= s.len
const isInt32 = (v: unknown): v is number =>
  typeof v === 'number' && v % 1 === 0 && v >= -2147483648 && v <= 4294967295
const isInt64 = (v: unknown): v is bigint => typeof v === 'bigint' && v >= MIN_I64 && v <= MAX_I64
const isIndex = (v: unknown): v is number => typeof v === 'number' && v % 1 === 0 && v >= 0

type Method = (this: unknown, ...args: never[]) => unknown
type ByHandle = (handle: number, args: IArguments) => unknown

/** The regions' prototype methods this layer replaces, each beside its native original. */
interface NativeMethods {
  readonly [name: string]: Method | undefined
}

/** What `installRegion` did: the methods it installed (they check their receiver themselves), and
 * the receiver check for the class's other methods. */
export interface InstalledRegion {
  readonly installed: ReadonlySet<Method>
  readonly genuine: (value: unknown) => boolean
  /** The fast-path state of a region of this class (tests look at it), if it has been stamped. */
  readonly stateOf: (value: unknown) => RegionState | undefined
}

/** The fast path's methods for a region class. */
export function installRegion(
  Class: { readonly name: string; readonly prototype: object },
  privates: RegionPrivates,
): InstalledRegion {
  const proto = Class.prototype
  const installed = new Set<Method>()
  const native: NativeMethods = {}
  for (const key of Reflect.ownKeys(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key)
    if (d !== undefined && typeof d.value === 'function' && typeof key === 'string')
      (native as Record<string, Method>)[key] = d.value as Method
  }
  const nativeOf = (name: string): Method => {
    const fn = native[name]
    if (fn === undefined) throw new Error(`mapshare's addon lacks ${Class.name}.prototype.${name}`)
    return fn
  }
  const set = (name: string | symbol, fn: Method, original: Method): void => {
    installed.add(fn)
    defineProperty(fn, 'name', { value: original.name })
    defineProperty(fn, 'length', { value: original.length })
    defineProperty(proto, name, { value: fn, writable: true, enumerable: false, configurable: true })
  }
  const notOurs = (): Error => invalidThis(Class.name)
  const brand = regionBrand()
  const stateOf = brand.stateOf
  /** The state of a region of this class, stamped on its first call once the addon's own
   * `_handle` has unwrapped it (which it does only for objects it made as this class). */
  const known = (self: unknown): RegionState => {
    const s = brand.anyStateOf(self)
    if (s !== undefined) return s
    if (typeof self !== 'object' || self === null || types.isProxy(self)) throw notOurs()
    let h: number
    try {
      h = privates.handle(self)
    } catch {
      throw notOurs()
    }
    const state = brand.stamp(
      self,
      newRegionState(() => privates.fastPath(self)),
    )
    state.handle = h
    return state
  }
  const genuine = (value: unknown): boolean => {
    try {
      known(value)
      return true
    } catch {
      return false
    }
  }
  const handle = (self: unknown, s: RegionState): number => {
    if (s.handle === -1) s.handle = privates.handle(self as object)
    return s.handle
  }
  // The native call, counted towards the warm-up: by handle (a plain function, cheaper than a
  // method call).
  const slow =
    (byHandle: ByHandle) =>
    (self: unknown, args: IArguments): unknown => {
      const s = known(self)
      warm(s)
      return byHandle(handle(self, s), args)
    }
  const slowAtomic32 = (op: AtomicOp) => {
    const code = atomicOpCode(op)
    return slow((h, a) => atomic32(h, code, a[0], a[1], a[2]))
  }
  const slowAtomic64 = (op: AtomicOp) => {
    const code = atomicOpCode(op)
    return slow((h, a) => atomic64(h, code, a[0], a[1], a[2]))
  }

  // notify always needs the kernel (a futex wake), but not a method call.
  const slowNotify = slow((h, a) => notifyByHandle(h, a[0], a[1]))
  set(
    'notify',
    function notify(this: unknown, _byteOffset?: unknown, _count?: unknown) {
      return slowNotify(this, arguments)
    },
    nativeOf('notify'),
  )

  // --- 32-bit atomics ---
  // One function per operation (not one shared closure), so that each call site stays monomorphic.
  const slowLoad = slowAtomic32('load')
  set(
    'load',
    function load(this: unknown, byteOffset?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset)) return aLoad(s.i32, byteOffset / 4)
      return slowLoad(this, arguments)
    },
    nativeOf('load'),
  )
  const slowStore = slowAtomic32('store')
  set(
    'store',
    function store(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value)) {
        aStore(s.i32, byteOffset / 4, value)
        return value | 0
      }
      return slowStore(this, arguments)
    },
    nativeOf('store'),
  )
  const slowAdd = slowAtomic32('add')
  set(
    'add',
    function add(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
        return aAdd(s.i32, byteOffset / 4, value)
      return slowAdd(this, arguments)
    },
    nativeOf('add'),
  )
  const slowSub = slowAtomic32('sub')
  set(
    'sub',
    function sub(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
        return aSub(s.i32, byteOffset / 4, value)
      return slowSub(this, arguments)
    },
    nativeOf('sub'),
  )
  const slowAnd = slowAtomic32('and')
  set(
    'and',
    function and(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
        return aAnd(s.i32, byteOffset / 4, value)
      return slowAnd(this, arguments)
    },
    nativeOf('and'),
  )
  const slowOr = slowAtomic32('or')
  set(
    'or',
    function or(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
        return aOr(s.i32, byteOffset / 4, value)
      return slowOr(this, arguments)
    },
    nativeOf('or'),
  )
  const slowXor = slowAtomic32('xor')
  set(
    'xor',
    function xor(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
        return aXor(s.i32, byteOffset / 4, value)
      return slowXor(this, arguments)
    },
    nativeOf('xor'),
  )
  const slowExchange = slowAtomic32('exchange')
  set(
    'exchange',
    function exchange(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
        return aExchange(s.i32, byteOffset / 4, value)
      return slowExchange(this, arguments)
    },
    nativeOf('exchange'),
  )
  const slowCas = slowAtomic32('compareExchange')
  set(
    'compareExchange',
    function compareExchange(this: unknown, byteOffset?: unknown, expected?: unknown, replacement?: unknown) {
      const s = stateOf(this)
      if (
        s !== undefined &&
        s.i32 !== null &&
        isOff32(s, byteOffset) &&
        isInt32(expected) &&
        isInt32(replacement)
      )
        return aCompareExchange(s.i32, byteOffset / 4, expected, replacement)
      return slowCas(this, arguments)
    },
    nativeOf('compareExchange'),
  )

  // --- 64-bit atomics ---
  const slowLoad64 = slowAtomic64('load')
  set(
    'load64',
    function load64(this: unknown, byteOffset?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset)) return aLoad(s.i64, byteOffset / 8)
      return slowLoad64(this, arguments)
    },
    nativeOf('load64'),
  )
  const slowStore64 = slowAtomic64('store')
  set(
    'store64',
    function store64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aStore(s.i64, byteOffset / 8, value)
      return slowStore64(this, arguments)
    },
    nativeOf('store64'),
  )
  const slowAdd64 = slowAtomic64('add')
  set(
    'add64',
    function add64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aAdd(s.i64, byteOffset / 8, value)
      return slowAdd64(this, arguments)
    },
    nativeOf('add64'),
  )
  const slowSub64 = slowAtomic64('sub')
  set(
    'sub64',
    function sub64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aSub(s.i64, byteOffset / 8, value)
      return slowSub64(this, arguments)
    },
    nativeOf('sub64'),
  )
  const slowAnd64 = slowAtomic64('and')
  set(
    'and64',
    function and64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aAnd(s.i64, byteOffset / 8, value)
      return slowAnd64(this, arguments)
    },
    nativeOf('and64'),
  )
  const slowOr64 = slowAtomic64('or')
  set(
    'or64',
    function or64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aOr(s.i64, byteOffset / 8, value)
      return slowOr64(this, arguments)
    },
    nativeOf('or64'),
  )
  const slowXor64 = slowAtomic64('xor')
  set(
    'xor64',
    function xor64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aXor(s.i64, byteOffset / 8, value)
      return slowXor64(this, arguments)
    },
    nativeOf('xor64'),
  )
  const slowExchange64 = slowAtomic64('exchange')
  set(
    'exchange64',
    function exchange64(this: unknown, byteOffset?: unknown, value?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.i64 !== null && isOff64(s, byteOffset) && isInt64(value))
        return aExchange(s.i64, byteOffset / 8, value)
      return slowExchange64(this, arguments)
    },
    nativeOf('exchange64'),
  )
  const slowCas64 = slowAtomic64('compareExchange')
  set(
    'compareExchange64',
    function compareExchange64(
      this: unknown,
      byteOffset?: unknown,
      expected?: unknown,
      replacement?: unknown,
    ) {
      const s = stateOf(this)
      if (
        s !== undefined &&
        s.i64 !== null &&
        isOff64(s, byteOffset) &&
        isInt64(expected) &&
        isInt64(replacement)
      )
        return aCompareExchange(s.i64, byteOffset / 8, expected, replacement)
      return slowCas64(this, arguments)
    },
    nativeOf('compareExchange64'),
  )

  // --- copies, where a plain copy cannot fault ---
  const slowReadInto = slow((h, a) => readIntoByHandle(h, a[0], a[1]))
  set(
    'readInto',
    function readInto(this: unknown, target?: unknown, offset?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.copies && s.u8 !== null && isUint8Array(target)) {
        const at = offset === undefined ? 0 : offset
        if (isIndex(at) && at < s.len) {
          const n = Math.min(lengthOf(target), s.len - at)
          if (n > 0) {
            setBytes(target, new Uint8Array(bufferOf(s.u8), at, n), 0)
            return n
          }
        }
      }
      return slowReadInto(this, arguments)
    },
    nativeOf('readInto'),
  )
  const slowWrite = slow((h, a) => writeByHandle(h, a[0], a[1]))
  set(
    'write',
    function write(this: unknown, data?: unknown, offset?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.copies && s.u8 !== null && isUint8Array(data)) {
        const at = offset === undefined ? 0 : offset
        const n = lengthOf(data)
        if (isIndex(at) && n > 0 && at + n <= s.len) {
          setBytes(s.u8, data, at)
          return n
        }
      }
      return slowWrite(this, arguments)
    },
    nativeOf('write'),
  )
  const slowRead = slow((h, a) => readByHandle(h, a[0], a[1]))
  set(
    'read',
    function read(this: unknown, offset?: unknown, length?: unknown) {
      const s = stateOf(this)
      if (s !== undefined && s.copies && s.u8 !== null) {
        const at = offset === undefined ? 0 : offset
        if (isIndex(at) && at < s.len) {
          const n = length === undefined ? s.len - at : length
          if (isIndex(n) && n > 0 && at + n <= s.len) {
            const out = allocUnsafeSlow(n)
            setBytes(out, new Uint8Array(bufferOf(s.u8), at, n), 0)
            return out
          }
        }
      }
      return slowRead(this, arguments)
    },
    nativeOf('read'),
  )

  // --- what ends the mapping: the state is cleared first ---
  const closing = (key: string | symbol, fn: Method): void => {
    set(
      key,
      function (this: unknown) {
        const s = known(this)
        s.closed = true
        clear(s)
        return apply(fn, this, arguments)
      },
      fn,
    )
  }
  closing('close', nativeOf('close'))
  if (native.detach !== undefined) closing('detach', native.detach)
  const dispose = Object.getOwnPropertyDescriptor(proto, Symbol.dispose)?.value as Method | undefined
  if (dispose !== undefined) closing(Symbol.dispose, dispose)

  if (native.resize !== undefined) {
    const fn = native.resize
    set(
      'resize',
      function resize(this: unknown) {
        const s = known(this)
        clear(s)
        try {
          return apply(fn, this, arguments)
        } finally {
          clear(s)
          s.calls = 0 // set up again over the new mapping after a few calls
        }
      },
      fn,
    )
  }

  // wait and waitAsync: the word is compared here first ('not-equal' at once, as Atomics.wait
  // does) where nothing can truncate the memory (elsewhere the native wait reports EFAULT for a
  // lost page, where a load here would fault), then the native wait, by handle.
  const isTimeout = (t: unknown): boolean => t === undefined || (typeof t === 'number' && t >= 0)
  const differs = (s: RegionState, byteOffset: unknown, expected: unknown): boolean =>
    s.copies &&
    s.i32 !== null &&
    isOff32(s, byteOffset) &&
    isInt32(expected) &&
    aLoad(s.i32, byteOffset / 4) !== (expected | 0)
  set(
    'wait',
    function wait(this: unknown, byteOffset?: unknown, expected?: unknown, timeout?: unknown): WaitResult {
      const s = known(this)
      // wait(byteOffset, expected, { timeout }) as waitAsync takes it, or a bare timeout.
      if (typeof timeout === 'object' && timeout !== null)
        timeout = (timeout as { timeout?: unknown }).timeout
      if (isTimeout(timeout) && differs(s, byteOffset, expected)) return 'not-equal'
      warm(s)
      const r = WAIT_RESULTS[waitByHandle(handle(this, s), byteOffset, expected, timeout)]
      if (r === undefined) throw new Error('mapshare: the addon returned no wait result')
      return r
    },
    nativeOf('wait'),
  )
  set(
    'waitAsync',
    function waitAsync(this: unknown, byteOffset?: unknown, expected?: unknown, options?: unknown) {
      const s = known(this)
      // With options, the native call checks an aborted signal before the word.
      if (options === undefined && differs(s, byteOffset, expected)) return Promise.resolve('not-equal')
      let given: AsyncWaitOptions
      try {
        given = asyncWaitOptions(options)
      } catch (e) {
        return Promise.reject(e)
      }
      warm(s)
      const h = handle(this, s)
      try {
        return withOwnSignal(given, (o) => waitAsyncByHandle(h, byteOffset, expected, o))
      } catch (e) {
        return Promise.reject(e) // a promise API: every failure rejects
      }
    },
    nativeOf('waitAsync'),
  )

  // resizeAsync: the addon prepares the new mapping on the pool and gives a token; the swap happens
  // here, on this thread, with the state cleared around it as for resize().
  const finish = privates.finishResize
  if (native.resizeAsync !== undefined && finish !== undefined) {
    const fn = native.resizeAsync
    set(
      'resizeAsync',
      function resizeAsync(this: unknown) {
        const s = known(this)
        const self = this as object
        return (apply(fn, this, arguments) as Promise<Parameters<typeof finish>[1]>).then((token) => {
          clear(s)
          try {
            finish(self, token)
          } finally {
            clear(s)
            s.calls = 0
          }
        })
      },
      fn,
    )
  }

  // `mutex()` stamps the Mutex with the region's state, for its own fast path.
  const nativeMutex = nativeOf('mutex')
  set(
    'mutex',
    function mutex(this: unknown, byteOffset?: unknown) {
      const s = known(this)
      const m = apply(nativeMutex, this, arguments) as object
      stampMutex(
        m,
        typeof byteOffset === 'number'
          ? { region: s, handle: handle(this, s), index: byteOffset / 4, of: this as MutexState['of'] }
          : null,
      )
      return m
    },
    nativeMutex,
  )
  return { installed, genuine, stateOf }
}

/**
 * The Mutex's JS layer. A held lock is an entry in the owner thread's robust futex list, which only
 * the addon keeps (see crates/core/src/robust.rs), so every attempt and unlock is a native call: by
 * region handle (a plain function, cheaper than a method call), with a short spin in JS on a lock
 * held by another thread before the native lock sleeps.
 */
export function installMutex(Mutex: { readonly prototype: object }): Set<Method> {
  const proto = Mutex.prototype as Record<string, Method>
  const installed = new Set<Method>()
  const nativeOf = (name: string): Method => {
    const fn = Object.getOwnPropertyDescriptor(proto, name)?.value as Method | undefined
    if (fn === undefined) throw new Error(`mapshare's addon lacks Mutex.prototype.${name}`)
    return fn
  }
  const nativeLock = nativeOf('lock')
  const nativeLockAsync = nativeOf('lockAsync')
  const nativeTryLock = nativeOf('tryLock')
  const nativeUnlock = nativeOf('unlock')
  const linux = process.platform === 'linux'
  const define = (name: string, fn: Method, original: Method): void => {
    installed.add(fn)
    defineProperty(fn, 'length', { value: original.length })
    defineProperty(proto, name, { value: fn, writable: true, enumerable: false, configurable: true })
  }
  // A taken lock's result: `{ ownerDied }`, and `[Symbol.dispose]()` (not enumerable), so that
  // `using held = mutex.lock()` releases it at the end of the scope. Disposing does nothing once the
  // lock was released (by an unlock() before), or taken again through the same Mutex since (that
  // later result owns it now).
  const latest = new WeakMap<object, number>()
  let taken = 0
  const held = (mutex: unknown, ownerDied: boolean): object => {
    const r = { ownerDied }
    const mine = ++taken
    latest.set(mutex as object, mine)
    defineProperty(r, Symbol.dispose, {
      value: function dispose() {
        if (latest.get(mutex as object) !== mine) return
        latest.delete(mutex as object)
        try {
          apply(unlock, mutex, [])
        } catch (e) {
          if ((e as { code?: unknown } | null)?.code !== 'ERR_MAPSHARE_NOT_OWNER') throw e
        }
      },
      enumerable: false,
      writable: true,
      configurable: true,
    })
    return r
  }
  const heldOrNull = (mutex: unknown, r: unknown): unknown =>
    r !== null && typeof r === 'object' ? held(mutex, (r as { ownerDied: boolean }).ownerDied === true) : r
  const result = (mutex: unknown, got: number) => held(mutex, got === 2)
  define(
    'lock',
    function lock(this: unknown, timeout?: unknown) {
      const m = mutexStateOf(this)
      if (m === undefined) throw invalidThis('Mutex')
      if (m !== null && linux && !m.region.closed) {
        if (timeout === undefined || (typeof timeout === 'number' && timeout >= 0)) {
          const offset = m.index * 4
          let got = tryLockByHandle(m.handle, offset)
          // Held: watch the word a little (a critical section between processes is often shorter
          // than putting a thread to sleep and waking it), reading it, not taking its cache line.
          const a = m.region.i32
          for (let k = 0; got === 0 && a !== null && k < SPIN; k++) {
            pause()
            if ((aLoad(a, m.index) & TID_MASK) === 0) got = tryLockByHandle(m.handle, offset)
          }
          if (got !== 0) return result(this, got)
        }
      }
      return heldOrNull(this, apply(nativeLock, this, arguments))
    },
    nativeLock,
  )
  define(
    'tryLock',
    function tryLock(this: unknown) {
      const m = mutexStateOf(this)
      if (m === undefined) throw invalidThis('Mutex')
      if (m !== null && linux && !m.region.closed) {
        const got = tryLockByHandle(m.handle, m.index * 4)
        return got === 0 ? null : result(this, got)
      }
      return heldOrNull(this, apply(nativeTryLock, this, arguments))
    },
    nativeTryLock,
  )
  function unlock(this: unknown): unknown {
    const m = mutexStateOf(this)
    if (m === undefined) throw invalidThis('Mutex')
    if (m !== null && linux && !m.region.closed) return unlockByHandle(m.handle, m.index * 4)
    return apply(nativeUnlock, this, arguments)
  }
  define('unlock', unlock, nativeUnlock)
  // lockAsync: the addon is given a signal of mapshare's own (signals.ts), so that no user code can
  // leave the promise unsettled, or a lock taken for a promise nobody receives.
  define(
    'lockAsync',
    function lockAsync(this: unknown, options?: unknown) {
      if (mutexStateOf(this) === undefined) throw invalidThis('Mutex')
      let given: AsyncWaitOptions
      try {
        given = asyncWaitOptions(options)
      } catch (e) {
        return Promise.reject(e)
      }
      try {
        return withOwnSignal(given, (o) => apply(nativeLockAsync, this, [o]) as Promise<unknown>).then((r) =>
          heldOrNull(this, r),
        )
      } catch (e) {
        return Promise.reject(e) // a promise API: every failure rejects
      }
    },
    nativeLockAsync,
  )
  return installed
}
