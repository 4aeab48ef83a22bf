// A queue of variable-size messages in a shared region, between processes and threads: one consumer,
// one producer or many (these take the channel's robust lock to place a message). Messages are
// copied in and out, or written and read in place. The consumer sleeps on the region's wait/notify,
// and so do producers waiting for space. The layout (mapshare_channel.h has it for C):
//
//   header, 256 bytes (little-endian u32 words; the positions run freely, mod 2^32):
//     0 magic 'MSCH' (0x4843534d)   4 version (1)   8 capacity (a power of two)   12 flags (1: many producers)
//     16 largest message (capacity / 2 - 8)
//     64 tail: where the next message goes, published when it is complete
//     68 data sequence (futex: +1 per message)   72 consumer sleeping (0/1)   76 producers' lock (robust)
//     80 messages sent   84 ended (1: no more messages)
//     128 head: where the next message to read starts, published when it is released
//     132 space sequence (futex: +1 per release)   136 producers sleeping (a count)   140 messages received
//     144 free bytes a sleeping producer waits for (the consumer wakes it once that much is free)
//   data, `capacity` bytes: records of { u32 length, u32 kind (1 message, 2 padding to the end) } and
//   the payload, each record 8-aligned. A message never wraps: it is placed at the start after a
//   padding record instead.
//
// A message exists for the consumer once the tail is past it: a producer that dies before that left
// nothing (the next one writes over it). The consumer checks every record it reads against the
// capacity and the tail, so corrupt memory gives ERR_MAPSHARE_CHANNEL_CORRUPT, never a crash or a hang.
'use strict'

const MAGIC = 0x4843534d
const VERSION = 1
const HEADER = 256
const O = {
  magic: 0,
  version: 4,
  capacity: 8,
  flags: 12,
  maxMessage: 16,
  tail: 64,
  dataSeq: 68,
  dataWaiters: 72,
  lock: 76,
  sent: 80,
  ended: 84,
  head: 128,
  spaceSeq: 132,
  spaceWaiters: 136,
  received: 140,
  spaceWanted: 144,
}
const KIND_MESSAGE = 1
const KIND_PAD = 2
const MIN_CAPACITY = 64
/** A producer waiting for room is woken once a quarter of the channel is free (so that it sends a
 * batch, not one message per wake-up), and looks again on its own after this many ms: a message that
 * fits in less never waits longer than that. */
const SPACE_RECHECK = 1
/** How long a consumer watches for a message before it sleeps (machines with more than one CPU). */
const WATCH_MS = 0.05
const MULTI_CPU = require('node:os').availableParallelism() > 1
const MAX_CAPACITY = 2 ** 30

function fail(Ctor, code, message) {
  const e = new Ctor(message)
  e.code = code
  return e
}
const corrupt = (why) =>
  fail(Error, 'ERR_MAPSHARE_CHANNEL_CORRUPT', `the channel's memory is not a valid channel: ${why}`)
const align8 = (n) => Math.ceil(n / 8) * 8

function toBytes(data) {
  if (data instanceof Uint8Array) return data // Buffers too: no new view per message
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data)
  throw fail(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'The "data" argument must be a string, an ArrayBuffer or a typed array, Buffer or DataView',
  )
}

function options(o, name) {
  if (o === undefined) return {}
  if (o === null || typeof o !== 'object')
    throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be an object`)
  return o
}

function checkTimeout(t) {
  if (t === undefined) return
  if (typeof t !== 'number' || Number.isNaN(t) || t < 0)
    throw fail(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `options.timeout must be >= 0 (milliseconds), got ${String(t)}`,
    )
}

class Channel {
  #r
  #base
  #data
  #cap
  #max
  #many
  #mutex = null
  #u8 = null // a view of the channel's bytes, or null: copies through the region
  #peeked = null
  #reserved = false

  /** Makes a channel in `region` at `byteOffset` (a multiple of 64) over `byteLength` bytes. */
  static create(region, opts) {
    const { byteOffset = 0, byteLength, producers = 'single' } = options(opts, 'options')
    const base = checkPlace(region, byteOffset)
    const room = byteLength === undefined ? region.length - base : byteLength
    if (
      typeof room !== 'number' ||
      !Number.isSafeInteger(room) ||
      room < HEADER + MIN_CAPACITY ||
      base + room > region.length
    )
      throw fail(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `a channel needs ${HEADER + MIN_CAPACITY} to ${HEADER + MAX_CAPACITY} bytes inside the region; got byteLength ${String(room)} at byteOffset ${base} of ${region.length}`,
      )
    if (producers !== 'single' && producers !== 'many')
      throw fail(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `options.producers must be 'single' or 'many', got ${String(producers)}`,
      )
    let cap = MIN_CAPACITY
    while (cap * 2 <= Math.min(room - HEADER, MAX_CAPACITY)) cap *= 2
    if (producers === 'many') region.mutex(base + O.lock) // ERR_FEATURE_UNAVAILABLE_ON_PLATFORM where there is no lock
    for (const key of Object.keys(O)) if (key !== 'magic') region.store(base + O[key], 0)
    region.store(base + O.version, VERSION)
    region.store(base + O.capacity, cap)
    region.store(base + O.flags, producers === 'many' ? 1 : 0)
    region.store(base + O.maxMessage, cap / 2 - 8)
    region.store(base + O.magic, MAGIC) // last: a channel is complete once it has its magic
    return new Channel(region, base)
  }

  /** Opens the channel made at `byteOffset` of `region` (by this or another process). */
  static open(region, opts) {
    const { byteOffset = 0 } = options(opts, 'options')
    return new Channel(region, checkPlace(region, byteOffset))
  }

  constructor(region, base) {
    if (arguments.length !== 2 || typeof base !== 'number')
      throw fail(TypeError, 'ERR_ILLEGAL_CONSTRUCTOR', 'Channel.create() and Channel.open() make channels')
    if (region.load(base + O.magic) !== MAGIC) throw corrupt('no channel magic at this offset')
    if (region.load(base + O.version) !== VERSION)
      throw corrupt(`version ${region.load(base + O.version)}, not ${VERSION}`)
    const cap = region.load(base + O.capacity) >>> 0
    if (
      cap < MIN_CAPACITY ||
      cap > MAX_CAPACITY ||
      (cap & (cap - 1)) !== 0 ||
      base + HEADER + cap > region.length
    )
      throw corrupt(`capacity ${cap}`)
    const flags = region.load(base + O.flags)
    if ((flags & ~1) !== 0) throw corrupt(`flags ${flags}`)
    this.#r = region
    this.#base = base
    this.#data = base + HEADER
    this.#cap = cap
    this.#max = cap / 2 - 8 // from the capacity, whatever the header now says
    this.#many = flags === 1
    if (this.#many) this.#mutex = region.mutex(base + O.lock)
    try {
      this.#u8 = region.view(Uint8Array, base, HEADER + cap)
    } catch (e) {
      if (e.code !== 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' && e.code !== 'ERR_MAPSHARE_NO_SAFE_VIEW')
        throw e
    }
  }

  /** Data bytes; a message takes 8 bytes more, rounded up to 8. */
  get capacity() {
    return this.#cap
  }

  /** The largest message: half the capacity, less its record header. */
  get maxMessageSize() {
    return this.#max
  }

  /** Whether several producers may send (they take the channel's lock to place a message). */
  get manyProducers() {
    return this.#many
  }

  /** How the channel is doing: bytes in use, messages sent and received (counted mod 2^32), ended. */
  stats() {
    const { head, tail } = this.#positions()
    const r = this.#r
    const sent = r.load(this.#base + O.sent) >>> 0
    const received = r.load(this.#base + O.received) >>> 0
    return {
      capacity: this.#cap,
      used: (tail - head) >>> 0,
      sent,
      received,
      pending: (sent - received) >>> 0,
      ended: r.load(this.#base + O.ended) !== 0,
    }
  }

  #positions() {
    const r = this.#r
    const head = r.load(this.#base + O.head) >>> 0
    const tail = r.load(this.#base + O.tail) >>> 0
    if ((tail - head) >>> 0 > this.#cap)
      throw corrupt(`head ${head} and tail ${tail} are more than the capacity apart`)
    return { head, tail }
  }

  // --- producing ---

  /** Where a message of `len` bytes would go, or null if there is no room now. */
  #place(len) {
    const { head, tail } = this.#positions()
    const need = 8 + align8(len)
    const pos = tail & (this.#cap - 1)
    const pad = pos + need > this.#cap ? this.#cap - pos : 0
    if (((tail - head) >>> 0) + pad + need > this.#cap) return null
    return { tail, pos, pad, need, at: this.#data + (pad ? 0 : pos) + 8 }
  }

  /** Writes the records' headers and publishes the tail: the message now exists. */
  #publish(p, len) {
    const r = this.#r
    if (p.pad) {
      r.store(this.#data + p.pos, p.pad - 8)
      r.store(this.#data + p.pos + 4, KIND_PAD)
    }
    r.store(p.at - 8, len)
    r.store(p.at - 4, KIND_MESSAGE)
    r.store(this.#base + O.tail, (p.tail + p.pad + p.need) >>> 0)
    r.add(this.#base + O.sent, 1)
    r.add(this.#base + O.dataSeq, 1)
    if (r.load(this.#base + O.dataWaiters) !== 0) r.notify(this.#base + O.dataSeq)
  }

  #write(at, bytes) {
    if (this.#u8 !== null) this.#u8.set(bytes, at - this.#base)
    else this.#r.write(bytes, at)
  }

  #checkSize(len) {
    if (len > this.#max)
      throw fail(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `a message of ${len} bytes is larger than this channel takes (${this.#max})`,
      )
    if (this.#reserved)
      throw fail(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'a reservation is open: commit() or abort() it first')
    if (this.#r.load(this.#base + O.ended) !== 0)
      throw fail(Error, 'ERR_MAPSHARE_CHANNEL_ENDED', 'the channel was ended: no more messages can be sent')
  }

  /** Copies `data` in as one message; false if there is no room now. */
  trySend(data) {
    const bytes = toBytes(data)
    this.#checkSize(bytes.length)
    if (this.#many && this.#mutex.lock() === null) return false
    try {
      const p = this.#place(bytes.length)
      if (p === null) return false
      this.#write(p.at, bytes)
      this.#publish(p, bytes.length)
      return true
    } finally {
      if (this.#many) this.#mutex.unlock()
    }
  }

  /** `trySend`, waiting (this thread blocks) for room up to `timeout` ms; false on timeout. */
  send(data, opts) {
    const { timeout } = options(opts, 'options')
    checkTimeout(timeout)
    const bytes = toBytes(data)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    for (;;) {
      if (this.trySend(bytes)) return true
      const seen = this.#enterSpaceWait(bytes.length)
      try {
        if (this.#place(bytes.length) !== null) continue
        const left = until - Date.now()
        if (left <= 0) return false
        this.#r.wait(this.#base + O.spaceSeq, seen, Math.min(left, SPACE_RECHECK))
      } finally {
        this.#r.sub(this.#base + O.spaceWaiters, 1)
      }
    }
  }

  /** `send` without blocking: resolves true once the message is in, false on timeout; `signal` aborts. */
  async sendAsync(data, opts) {
    const { timeout, signal } = options(opts, 'options')
    checkTimeout(timeout)
    const bytes = toBytes(data)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    for (;;) {
      if (this.trySend(bytes)) return true
      const seen = this.#enterSpaceWait(bytes.length)
      try {
        if (this.#place(bytes.length) !== null) continue
        const left = until - Date.now()
        if (left <= 0) return false
        await this.#r.waitAsync(this.#base + O.spaceSeq, seen, {
          timeout: Math.min(left, SPACE_RECHECK),
          signal,
        })
      } finally {
        this.#r.sub(this.#base + O.spaceWaiters, 1)
      }
    }
  }

  /** Announces a sleeping producer that wants a quarter of the channel free (at least room for two
   * records of `len`) before it is woken (see SPACE_RECHECK). */
  #enterSpaceWait(len) {
    const r = this.#r
    const seen = r.load(this.#base + O.spaceSeq)
    r.add(this.#base + O.spaceWaiters, 1)
    r.store(this.#base + O.spaceWanted, Math.min(this.#cap, Math.max(this.#cap / 4, 2 * (8 + align8(len)))))
    return seen
  }

  /**
   * Room for a message of `length` bytes, written in place: `{ buffer, commit(length?), abort() }`,
   * or null if there is no room now. `buffer` is the channel's own memory where views exist (a
   * scratch Buffer copied in at `commit()` elsewhere). With many producers the channel's lock is held
   * until `commit()` or `abort()`: keep it short.
   */
  tryReserve(length) {
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)
      throw fail(RangeError, 'ERR_OUT_OF_RANGE', `length must be an integer >= 0, got ${String(length)}`)
    this.#checkSize(length)
    if (this.#many && this.#mutex.lock() === null) return null
    const p = this.#place(length)
    if (p === null) {
      if (this.#many) this.#mutex.unlock()
      return null
    }
    this.#reserved = true
    const u8 = this.#u8
    const buffer =
      u8 !== null ? Buffer.from(u8.buffer, u8.byteOffset + (p.at - this.#base), length) : Buffer.alloc(length)
    let open = true
    const end = () => {
      if (!open)
        throw fail(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'this reservation was already committed or aborted')
      open = false
      this.#reserved = false
    }
    return {
      buffer,
      commit: (used = length) => {
        if (typeof used !== 'number' || !Number.isSafeInteger(used) || used < 0 || used > length)
          throw fail(RangeError, 'ERR_OUT_OF_RANGE', `commit(length): 0 to ${length}, got ${String(used)}`)
        end()
        try {
          if (u8 === null) this.#r.write(buffer.subarray(0, used), p.at)
          this.#publish({ ...p, need: 8 + align8(used) }, used)
        } finally {
          if (this.#many) this.#mutex.unlock()
        }
      },
      abort: () => {
        end()
        if (this.#many) this.#mutex.unlock()
      },
    }
  }

  /** No more messages: the consumer's `receive`/`receiveAsync` give null (and iteration ends) once it has read the rest. */
  end() {
    this.#r.store(this.#base + O.ended, 1)
    this.#r.add(this.#base + O.dataSeq, 1)
    this.#r.notify(this.#base + O.dataSeq)
  }

  // --- consuming ---

  /** The next complete message: where its payload is, and how far the head moves past it; or null. */
  #next() {
    const r = this.#r
    for (;;) {
      const { head, tail } = this.#positions()
      if (head === tail) return null
      const pos = head & (this.#cap - 1)
      const avail = (tail - head) >>> 0
      if (avail < 8 || pos + 8 > this.#cap) throw corrupt(`a record header at ${pos} does not fit`)
      const len = r.load(this.#data + pos) >>> 0
      const kind = r.load(this.#data + pos + 4)
      if (kind === KIND_PAD) {
        if (len !== this.#cap - pos - 8 || this.#cap - pos > avail)
          throw corrupt(`padding of ${len} bytes at ${pos}`)
        r.store(this.#base + O.head, (head + this.#cap - pos) >>> 0)
        r.add(this.#base + O.spaceSeq, 1)
        this.#wakeProducers((head + this.#cap - pos) >>> 0)
        continue
      }
      const size = 8 + align8(len)
      if (kind !== KIND_MESSAGE || len > this.#max || pos + size > this.#cap || size > avail)
        throw corrupt(`a record of kind ${kind} and length ${len} at ${pos}`)
      return { head, at: this.#data + pos + 8, len, size }
    }
  }

  #release(n) {
    const r = this.#r
    const head = (n.head + n.size) >>> 0
    r.store(this.#base + O.head, head)
    r.add(this.#base + O.received, 1)
    r.add(this.#base + O.spaceSeq, 1)
    this.#wakeProducers(head)
  }

  /** Wakes sleeping producers once the room they wait for is free (not on every message: they would
   * wake, send one message, and sleep again). */
  #wakeProducers(head) {
    const r = this.#r
    if (r.load(this.#base + O.spaceWaiters) === 0) return
    const free = this.#cap - ((r.load(this.#base + O.tail) - head) >>> 0)
    if (free >= r.load(this.#base + O.spaceWanted) >>> 0) r.notify(this.#base + O.spaceSeq)
  }

  #copy(n) {
    if (this.#u8 !== null) return Buffer.from(this.#u8.subarray(n.at - this.#base, n.at - this.#base + n.len))
    return this.#r.read(n.at, n.len)
  }

  #checkNotPeeked() {
    if (this.#peeked !== null)
      throw fail(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'a peeked message is open: release() it first')
  }

  /** The next message, copied out (a Buffer), or null if there is none now. */
  tryReceive() {
    this.#checkNotPeeked()
    const n = this.#next()
    if (n === null) return null
    const out = this.#copy(n)
    this.#release(n)
    return out
  }

  /**
   * The next message in place (a Buffer over the channel's memory where views exist, else a copy), or
   * null; it stays valid, and in the channel, until `release()`.
   */
  tryPeek() {
    this.#checkNotPeeked()
    const n = this.#next()
    if (n === null) return null
    this.#peeked = n
    if (this.#u8 === null) return this.#r.read(n.at, n.len)
    return Buffer.from(this.#u8.buffer, this.#u8.byteOffset + (n.at - this.#base), n.len)
  }

  /** Frees the message `tryPeek()` gave. */
  release() {
    if (this.#peeked === null)
      throw fail(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'release() without a peeked message')
    const n = this.#peeked
    this.#peeked = null
    this.#release(n)
  }

  /**
   * Copies the next message into `target` (a Buffer, typed array or DataView) and returns its length,
   * or null if there is none now. `ERR_OUT_OF_RANGE` if it does not fit (the message stays).
   */
  tryReceiveInto(target) {
    if (!ArrayBuffer.isView(target))
      throw fail(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        'The "target" argument must be a Buffer, typed array or DataView',
      )
    this.#checkNotPeeked()
    const n = this.#next()
    if (n === null) return null
    if (n.len > target.byteLength)
      throw fail(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `the next message has ${n.len} bytes; the target holds ${target.byteLength}`,
      )
    const dst =
      target instanceof Uint8Array ? target : new Uint8Array(target.buffer, target.byteOffset, n.len)
    if (this.#u8 !== null) dst.set(this.#u8.subarray(n.at - this.#base, n.at - this.#base + n.len))
    else this.#r.readInto(dst.subarray(0, n.len), n.at)
    this.#release(n)
    return n.len
  }

  /** `tryReceive`, waiting (this thread blocks) up to `timeout` ms; null on timeout or once ended and empty. */
  receive(opts) {
    return this.#waitFor(() => this.tryReceive(), opts)
  }

  /** `tryReceiveInto`, waiting (this thread blocks) up to `timeout` ms; null on timeout or once ended and empty. */
  receiveInto(target, opts) {
    return this.#waitFor(() => this.tryReceiveInto(target), opts)
  }

  /** `receive` without blocking: a promise of the next message (null on timeout, or ended and empty); `signal` aborts. */
  receiveAsync(opts) {
    return this.#waitForAsync(() => this.tryReceive(), opts)
  }

  /** `receiveInto` as a promise. */
  receiveIntoAsync(target, opts) {
    return this.#waitForAsync(() => this.tryReceiveInto(target), opts)
  }

  #waitFor(take, opts) {
    const { timeout } = options(opts, 'options')
    checkTimeout(timeout)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    for (;;) {
      const m = take()
      if (m !== null) return m
      // Watch for a message a moment before announcing a sleep (which makes every producer notify).
      if (MULTI_CPU && timeout !== 0) {
        const stop = performance.now() + WATCH_MS
        while (!this.#ready() && performance.now() < stop && this.#r.load(this.#base + O.ended) === 0);
        if (this.#ready()) continue
      }
      const seen = this.#enterDataWait()
      try {
        if (this.#ready()) continue
        if (this.#r.load(this.#base + O.ended) !== 0) return null
        const left = until - Date.now()
        if (left <= 0) return null
        this.#r.wait(this.#base + O.dataSeq, seen, left === Infinity ? undefined : left)
      } finally {
        this.#r.store(this.#base + O.dataWaiters, 0)
      }
    }
  }

  async #waitForAsync(take, opts) {
    const { timeout, signal } = options(opts, 'options')
    checkTimeout(timeout)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    for (;;) {
      const m = take()
      if (m !== null) return m
      // Watch for a message for a few turns of the event loop (which keeps running everything else)
      // before announcing a sleep, which makes every producer notify.
      if (MULTI_CPU && timeout !== 0 && !signal?.aborted) {
        const stop = performance.now() + WATCH_MS
        while (!this.#ready() && performance.now() < stop && this.#r.load(this.#base + O.ended) === 0)
          await new Promise(setImmediate)
        if (this.#ready()) continue
      }
      const seen = this.#enterDataWait()
      try {
        if (this.#ready()) continue
        if (this.#r.load(this.#base + O.ended) !== 0) return null
        const left = until - Date.now()
        if (left <= 0) return null
        await this.#r.waitAsync(this.#base + O.dataSeq, seen, {
          timeout: left === Infinity ? undefined : left,
          signal,
        })
      } finally {
        this.#r.store(this.#base + O.dataWaiters, 0)
      }
    }
  }

  #enterDataWait() {
    const seen = this.#r.load(this.#base + O.dataSeq)
    this.#r.store(this.#base + O.dataWaiters, 1)
    return seen
  }

  #ready() {
    const { head, tail } = this.#positions()
    return head !== tail
  }

  /** Messages (copies) as they come, sleeping in between; ends when the channel is ended and empty. */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      const m = await this.receiveAsync()
      if (m === null) return
      yield m
    }
  }
}

function checkPlace(region, byteOffset) {
  if (region === null || typeof region !== 'object' || typeof region.load !== 'function')
    throw fail(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "region" argument must be a MmapFile, SharedMemory or ShmSegment',
    )
  if (typeof byteOffset !== 'number' || !Number.isSafeInteger(byteOffset) || byteOffset < 0)
    throw fail(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `options.byteOffset must be an integer >= 0, got ${String(byteOffset)}`,
    )
  if (byteOffset % 64 !== 0)
    throw fail(
      RangeError,
      'ERR_MAPSHARE_UNALIGNED',
      `a channel starts on a multiple of 64 bytes, not at ${byteOffset}`,
    )
  if (byteOffset + HEADER + MIN_CAPACITY > region.length)
    throw fail(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `no room for a channel at byteOffset ${byteOffset} of ${region.length} bytes`,
    )
  return byteOffset
}

module.exports = { Channel }
