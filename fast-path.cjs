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
// - A region's state object is created once and only mutated: close(), detach() and
//   [Symbol.dispose]() clear it before the native call, resize() clears it around the call, so a
//   closed or resized region never takes the fast path (freezing the region does not stop this).
// - Arguments are taken only when they are primitives of the right type and range, so no user code
//   (getters, valueOf) runs between the check and the access. Intrinsics are captured at load time.
// - Copies use it only where the backing cannot shrink (anonymous memory, System V segments): a
//   file or POSIX object another process truncates would fault (SIGBUS) in a plain copy, and the
//   native copy turns that into EFAULT.
'use strict'

const { isUint8Array } = require('node:util').types

const call = Function.prototype.call
const uncurry = (fn) => call.bind(fn)
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype)
const getter = (proto, key) => uncurry(Object.getOwnPropertyDescriptor(proto, key).get)
const lengthOf = getter(TypedArrayProto, 'length')
const bufferOf = getter(TypedArrayProto, 'buffer')
const setBytes = uncurry(TypedArrayProto.set)
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

const kFast = Symbol('mapshare.fastPath')
/** Native calls on a region before the fast path is set up: a region used a few times never pays for it. */
const WARM_UP = 8
/** The lock word (see the README): the owner's thread id, and the bit set while threads sleep. */
const TID_MASK = 0x3fffffff
const WAITERS = 0x80000000 | 0
/** Attempts the lock makes in JS before the native call (which sleeps). */
const SPIN = 64
/** `Atomics.pause` (a CPU spin-wait hint) where the runtime has it. */
const pause = typeof Atomics.pause === 'function' ? Atomics.pause : () => {}
const MIN_I64 = -(2n ** 63n)
const MAX_I64 = 2n ** 63n - 1n

/** The per-region state: made once per region object, then only mutated. */
function makeState(region) {
  return {
    region,
    handle: -1,
    calls: 0,
    closed: false,
    len: 0,
    u8: null,
    i32: null,
    i64: null,
    copies: false,
  }
}

function clear(s) {
  s.len = 0
  s.u8 = s.i32 = s.i64 = null
  s.copies = false
}

/** The region's state, made on first use; undefined when the receiver cannot carry one. */
function stateOf(region, Class) {
  if (!(region instanceof Class)) return undefined
  let s = region[kFast]
  if (s === undefined) {
    s = makeState(region)
    // Fails (false) on a frozen object: that region then simply has no fast path.
    if (!defineProperty(region, kFast, { value: s, writable: false, enumerable: false, configurable: false }))
      return undefined
  }
  return s
}

/** Counts a native call; after WARM_UP of them, asks the addon for the fast path's Buffer. */
function warm(s, fastPath) {
  if (s.closed || s.i32 !== null || ++s.calls < WARM_UP || s.calls > WARM_UP) return
  const f = apply(fastPath, s.region, [])
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

const isOff32 = (s, o) => typeof o === 'number' && o % 4 === 0 && o >= 0 && o + 4 <= s.len
const isOff64 = (s, o) => typeof o === 'number' && o % 8 === 0 && o >= 0 && o + 8 <= s.len
const isInt32 = (v) => typeof v === 'number' && v % 1 === 0 && v >= -2147483648 && v <= 4294967295
const isInt64 = (v) => typeof v === 'bigint' && v >= MIN_I64 && v <= MAX_I64
const isIndex = (v) => typeof v === 'number' && v % 1 === 0 && v >= 0

/** Marks the functions this layer installs: they check their receiver themselves (main.cjs's guard skips them). */
const kChecked = Symbol('mapshare.checksReceiver')

function installRegion(Class, binding, invalidThis) {
  const proto = Class.prototype
  const native = {}
  for (const key of Reflect.ownKeys(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key)
    if (typeof d.value === 'function') native[typeof key === 'symbol' ? key.description : key] = d.value
  }
  const fastPath = native._fastPath
  const set = (name, fn) => {
    fn[kChecked] = true
    Object.defineProperty(fn, 'name', { value: native[name].name })
    Object.defineProperty(fn, 'length', { value: native[name].length })
    Object.defineProperty(proto, name, { value: fn, writable: true, enumerable: false, configurable: true })
  }
  // The native call, counted towards the warm-up.
  // The native call, counted towards the warm-up: by handle (a plain function, cheaper than a
  // method call) once the region has a state, as the method otherwise (a frozen region).
  const ATOMIC_OPS = ['load', 'store', 'add', 'sub', 'and', 'or', 'xor', 'exchange', 'compareExchange']
  const slow = (name) => {
    const fn = native[name]
    const base = name.replace('64', '')
    const code = ATOMIC_OPS.indexOf(base)
    const byHandle =
      code >= 0
        ? name.endsWith('64')
          ? (h, a) => binding._atomic64(h, code, a[0], a[1], a[2])
          : (h, a) => binding._atomic32(h, code, a[0], a[1], a[2])
        : name === 'readInto'
          ? (h, a) => binding._readInto(h, a[0], a[1])
          : name === 'write'
            ? (h, a) => binding._write(h, a[0], a[1])
            : name === 'read'
              ? (h, a) => binding._read(h, a[0], a[1])
              : (h, a) => binding._notify(h, a[0], a[1])
    return function (self, args) {
      const s = stateOf(self, Class)
      if (s === undefined) {
        if (!(self instanceof Class)) throw invalidThis(Class)
        return apply(fn, self, args)
      }
      warm(s, fastPath)
      if (s.handle === -1) s.handle = apply(handleOf, self, [])
      return byHandle(s.handle, args)
    }
  }
  const handleOf = native._handle

  // notify always needs the kernel (a futex wake), but not a method call.
  const slowNotify = slow('notify')
  set('notify', function notify(byteOffset, count) {
    return slowNotify(this, arguments)
  })

  // --- 32-bit atomics ---
  const slowLoad = slow('load')
  set('load', function load(byteOffset) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset)) return aLoad(s.i32, byteOffset / 4)
    return slowLoad(this, arguments)
  })
  const slowStore = slow('store')
  set('store', function store(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value)) {
      aStore(s.i32, byteOffset / 4, value)
      return value | 0
    }
    return slowStore(this, arguments)
  })
  // One function per operation (not one shared closure), so that each call site stays monomorphic.
  const slowAdd = slow('add')
  set('add', function add(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
      return aAdd(s.i32, byteOffset / 4, value)
    return slowAdd(this, arguments)
  })
  const slowSub = slow('sub')
  set('sub', function sub(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
      return aSub(s.i32, byteOffset / 4, value)
    return slowSub(this, arguments)
  })
  const slowAnd = slow('and')
  set('and', function and(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
      return aAnd(s.i32, byteOffset / 4, value)
    return slowAnd(this, arguments)
  })
  const slowOr = slow('or')
  set('or', function or(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
      return aOr(s.i32, byteOffset / 4, value)
    return slowOr(this, arguments)
  })
  const slowXor = slow('xor')
  set('xor', function xor(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
      return aXor(s.i32, byteOffset / 4, value)
    return slowXor(this, arguments)
  })
  const slowExchange = slow('exchange')
  set('exchange', function exchange(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff32(s, byteOffset) && isInt32(value))
      return aExchange(s.i32, byteOffset / 4, value)
    return slowExchange(this, arguments)
  })
  const slowCas = slow('compareExchange')
  set('compareExchange', function compareExchange(byteOffset, expected, replacement) {
    const s = this != null ? this[kFast] : undefined
    if (
      s !== undefined &&
      s.i32 !== null &&
      isOff32(s, byteOffset) &&
      isInt32(expected) &&
      isInt32(replacement)
    )
      return aCompareExchange(s.i32, byteOffset / 4, expected, replacement)
    return slowCas(this, arguments)
  })

  // --- 64-bit atomics ---
  const slowLoad64 = slow('load64')
  set('load64', function load64(byteOffset) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset)) return aLoad(s.i64, byteOffset / 8)
    return slowLoad64(this, arguments)
  })
  const slowStore64 = slow('store64')
  set('store64', function store64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aStore(s.i64, byteOffset / 8, value)
    return slowStore64(this, arguments)
  })
  const slowAdd64 = slow('add64')
  set('add64', function add64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aAdd(s.i64, byteOffset / 8, value)
    return slowAdd64(this, arguments)
  })
  const slowSub64 = slow('sub64')
  set('sub64', function sub64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aSub(s.i64, byteOffset / 8, value)
    return slowSub64(this, arguments)
  })
  const slowAnd64 = slow('and64')
  set('and64', function and64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aAnd(s.i64, byteOffset / 8, value)
    return slowAnd64(this, arguments)
  })
  const slowOr64 = slow('or64')
  set('or64', function or64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aOr(s.i64, byteOffset / 8, value)
    return slowOr64(this, arguments)
  })
  const slowXor64 = slow('xor64')
  set('xor64', function xor64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aXor(s.i64, byteOffset / 8, value)
    return slowXor64(this, arguments)
  })
  const slowExchange64 = slow('exchange64')
  set('exchange64', function exchange64(byteOffset, value) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.i32 !== null && isOff64(s, byteOffset) && isInt64(value))
      return aExchange(s.i64, byteOffset / 8, value)
    return slowExchange64(this, arguments)
  })
  const slowCas64 = slow('compareExchange64')
  set('compareExchange64', function compareExchange64(byteOffset, expected, replacement) {
    const s = this != null ? this[kFast] : undefined
    if (
      s !== undefined &&
      s.i32 !== null &&
      isOff64(s, byteOffset) &&
      isInt64(expected) &&
      isInt64(replacement)
    )
      return aCompareExchange(s.i64, byteOffset / 8, expected, replacement)
    return slowCas64(this, arguments)
  })

  // --- copies, where a plain copy cannot fault ---
  const slowReadInto = slow('readInto')
  set('readInto', function readInto(target, offset) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.copies && isUint8Array(target)) {
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
  })
  const slowWrite = slow('write')
  set('write', function write(data, offset) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.copies && isUint8Array(data)) {
      const at = offset === undefined ? 0 : offset
      const n = lengthOf(data)
      if (isIndex(at) && n > 0 && at + n <= s.len) {
        setBytes(s.u8, data, at)
        return n
      }
    }
    return slowWrite(this, arguments)
  })
  const slowRead = slow('read')
  set('read', function read(offset, length) {
    const s = this != null ? this[kFast] : undefined
    if (s !== undefined && s.copies) {
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
  })

  // --- what ends the mapping: the state is cleared first ---
  const closing = (name) => {
    if (!native[name]) return
    const fn = native[name]
    const wrapped = function () {
      if (!(this instanceof Class)) throw invalidThis(Class)
      // A region that never made its state needs none now (a state made later asks the addon,
      // which has no fast path for a closed region).
      const s = this[kFast]
      if (s !== undefined) {
        s.closed = true
        clear(s)
      }
      return apply(fn, this, arguments)
    }
    if (name === 'dispose') {
      wrapped[kChecked] = true
      Object.defineProperty(wrapped, 'name', { value: fn.name })
      Object.defineProperty(proto, Symbol.dispose, { value: wrapped, writable: true, configurable: true })
    } else set(name, wrapped)
  }
  closing('close')
  closing('detach')
  if (proto[Symbol.dispose]) native.dispose = proto[Symbol.dispose]
  closing('dispose')
  if (native.resize) {
    const fn = native.resize
    set('resize', function resize() {
      if (!(this instanceof Class)) throw invalidThis(Class)
      const s = this[kFast]
      if (s === undefined) return apply(fn, this, arguments)
      clear(s)
      try {
        return apply(fn, this, arguments)
      } finally {
        clear(s)
        s.calls = 0 // set up again over the new mapping after a few calls
      }
    })
  }

  // wait and waitAsync: the word is compared here first ('not-equal' at once, as Atomics.wait
  // does) where nothing can truncate the memory (elsewhere the native wait reports EFAULT for a
  // lost page, where a load here would fault), then the native wait, by handle.
  const WAIT_RESULTS = ['ok', 'not-equal', 'timed-out']
  const isTimeout = (t) => t === undefined || (typeof t === 'number' && t >= 0)
  const differs = (s, byteOffset, expected) =>
    s.copies && isOff32(s, byteOffset) && isInt32(expected) && aLoad(s.i32, byteOffset / 4) !== (expected | 0)
  const nativeWait = native.wait
  set('wait', function wait(byteOffset, expected, timeout) {
    const s = stateOf(this, Class)
    if (s === undefined) {
      if (!(this instanceof Class)) throw invalidThis(Class)
      return apply(nativeWait, this, arguments)
    }
    if (isTimeout(timeout) && differs(s, byteOffset, expected)) return 'not-equal'
    warm(s, fastPath)
    if (s.handle === -1) s.handle = apply(handleOf, this, [])
    return WAIT_RESULTS[binding._wait(s.handle, byteOffset, expected, timeout)]
  })
  const nativeWaitAsync = native.waitAsync
  set('waitAsync', function waitAsync(byteOffset, expected, options) {
    const s = stateOf(this, Class)
    if (s === undefined) {
      if (!(this instanceof Class)) throw invalidThis(Class)
      return apply(nativeWaitAsync, this, arguments)
    }
    // With options, the native call reads them (and checks an aborted signal) before the word.
    if (options === undefined && differs(s, byteOffset, expected)) return Promise.resolve('not-equal')
    warm(s, fastPath)
    if (s.handle === -1) s.handle = apply(handleOf, this, [])
    return binding._waitAsync(s.handle, byteOffset, expected, options)
  })

  // resizeAsync: the addon prepares the new mapping on the pool and gives a token; the swap happens
  // here, on this thread, with the state cleared around it as for resize().
  if (native.resizeAsync) {
    const fn = native.resizeAsync
    const finish = native._finishResize
    set('resizeAsync', function resizeAsync() {
      if (!(this instanceof Class)) throw invalidThis(Class)
      const self = this
      return apply(fn, this, arguments).then((token) => {
        const s = self[kFast]
        if (s === undefined) return apply(finish, self, [token])
        clear(s)
        try {
          apply(finish, self, [token])
        } finally {
          clear(s)
          s.calls = 0
        }
      })
    })
  }

  // `mutex()` gives the Mutex the region's state, for its own fast path.
  const nativeMutex = native.mutex
  set('mutex', function mutex(byteOffset) {
    if (!(this instanceof Class)) throw invalidThis(Class)
    const m = apply(nativeMutex, this, arguments)
    const s = stateOf(this, Class)
    if (s !== undefined)
      defineProperty(m, kFast, { value: { s, index: byteOffset / 4, fastPath }, enumerable: false })
    return m
  })
}

/** The Mutex's fast path: the uncontended lock and unlock are one compare-and-swap on the word. */
function installMutex(Mutex, threadId, invalidThis) {
  const proto = Mutex.prototype
  const nativeLock = proto.lock
  const nativeUnlock = proto.unlock
  const nativeTryLock = proto.tryLock
  // The lock word records the thread id: one per JS thread (each worker loads this module anew).
  let tid = 0
  const linux = process.platform === 'linux'
  const define = (name, fn) => {
    fn[kChecked] = true
    Object.defineProperty(fn, 'length', { value: proto[name].length })
    Object.defineProperty(proto, name, { value: fn, writable: true, enumerable: false, configurable: true })
  }
  // One attempt: takes the lock if it is free (keeping the waiters bit, as the native lock does).
  // 1: taken; 0: held by another thread; -1: this thread holds it (the native call says EDEADLK).
  const attempt = (a, i) => {
    // Optimistic: a free word with no sleepers is the common case, and one compare-and-swap.
    const v = aCompareExchange(a, i, 0, tid)
    if (v === 0) return 1
    const owner = v & TID_MASK
    if (owner === 0) return aCompareExchange(a, i, v, tid | (v & WAITERS)) === v ? 1 : 0
    return owner === tid ? -1 : 0
  }
  define('lock', function lock(timeout) {
    const m = this != null ? this[kFast] : undefined
    if (m !== undefined && linux) {
      const a = m.s.i32
      if (a !== null) {
        if ((timeout === undefined || (typeof timeout === 'number' && timeout >= 0)) && tid !== 0) {
          // Free, or freed within a short spin (a critical section between processes is often
          // shorter than putting a thread to sleep and waking it): no native call.
          // The first try is a compare-and-swap; the spin then only reads the word until it looks free
          // (a compare-and-swap takes the cache line away from the holder every time).
          let got = attempt(a, m.index)
          for (let k = 0; got === 0 && k < SPIN; k++) {
            pause()
            if ((aLoad(a, m.index) & TID_MASK) === 0) got = attempt(a, m.index)
          }
          if (got === 1) return { ownerDied: false }
        }
      } else warm(m.s, m.fastPath)
      if (tid === 0) tid = threadId()
    }
    if (m === undefined && !(this instanceof Mutex)) throw invalidThis(Mutex)
    return apply(nativeLock, this, arguments)
  })
  define('tryLock', function tryLock() {
    const m = this != null ? this[kFast] : undefined
    if (m !== undefined && linux && tid !== 0) {
      const a = m.s.i32
      if (a !== null && attempt(a, m.index) === 1) return { ownerDied: false }
    }
    if (m === undefined && !(this instanceof Mutex)) throw invalidThis(Mutex)
    return apply(nativeTryLock, this, arguments)
  })
  define('unlock', function unlock() {
    const m = this != null ? this[kFast] : undefined
    if (m !== undefined && linux && tid !== 0) {
      const a = m.s.i32
      if (a !== null && aCompareExchange(a, m.index, tid, 0) === tid) return undefined
    }
    if (m === undefined && !(this instanceof Mutex)) throw invalidThis(Mutex)
    return apply(nativeUnlock, this, arguments)
  })
}

module.exports = { installRegion, installMutex, kChecked }
