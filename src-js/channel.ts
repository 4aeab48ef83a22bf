// A queue of variable-size messages in a shared region, between processes and threads: one consumer,
// one producer or many (these take the channel's robust lock to place a message). Messages are
// copied in and out, or written and read in place. The consumer sleeps on the region's wait/notify,
// and so do producers waiting for space. The layout (mapshare_channel.h has it for C):
//
//   header, 256 bytes (little-endian u32 words; the positions run freely, mod 2^32):
//     0 magic 'MSCH' (0x4843534d)   4 version (2)   8 capacity (a power of two)   12 flags (1: many producers)
//     16 largest message (capacity / 2 - 8)
//     64 tail: where the next message goes, published when it is complete
//     68 data sequence (futex)   72 consumer sleeping (0/1)   76 producers' lock (robust)
//     80 messages sent   84 ended (1: no more messages)
//     128 head: where the next message to read starts, published when it is released
//     132 space sequence (futex)   136 producers sleeping (a count)   140 messages received
//     144 free bytes a sleeping producer waits for (0xffffffff: none)
//   The producer side writes the 64..127 line and the consumer side the 128..191 line; each reads the
//   other's position only when its own copy says the channel is empty or full.
//   data, `capacity` bytes: records of { u32 length, u32 kind (1 message, 2 padding to the end) } and
//   the payload, each record 8-aligned. A message never wraps: it is placed at the start after a
//   padding record instead.
//
// Sleeping and waking (the futex words change only to wake someone, so a sender or receiver that is
// keeping up makes no system call): a consumer about to sleep reads the data sequence, sets 'consumer
// sleeping', looks at the tail once more and sleeps while the sequence is unchanged; a producer that
// published a message and finds 'consumer sleeping' set swaps it to 0 and, if it was 1, adds 1 to the
// data sequence and wakes it. A producer about to sleep reads the space sequence, counts itself in
// 'producers sleeping', stores the free bytes it waits for, looks at the head once more and sleeps; a
// consumer that released a message while producers sleep and that much is free swaps the wanted
// bytes to 0xffffffff (one wake-up per wait) and adds 1 to the space sequence and wakes them.
//
// A message exists for the consumer once the tail is past it: a producer that dies before that left
// nothing (the next one writes over it). The consumer checks every record it reads against the
// capacity and the tail, so corrupt memory gives ERR_MAPSHARE_CHANNEL_CORRUPT, never a crash or a hang.
import os from 'node:os'
import { codeOf, coded, invalidArgType, invalidArgValue, outOfRange, unaligned } from './errors.ts'
import type { Mutex, Region } from './native.ts'
import { markUncloneable } from './native.ts'
import { decodeLockWord, type LockWordState } from './lock-word.ts'
import { abortSignal, isAborted } from './signals.ts'
import { copyOut } from './slab.ts'
import {
  integer,
  optionsObject,
  region as checkRegion,
  timeout as checkTimeout,
  viewOrNull,
} from './validate.ts'

const MAGIC = 0x4843534d
const VERSION = 2
const HEADER = 256
const O = Object.freeze({
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
})
type Word = (typeof O)[keyof typeof O]
const KIND_MESSAGE = 1
const KIND_PAD = 2
const MIN_CAPACITY = 64
/** A producer waiting for room is woken once a quarter of the channel is free (so that it sends a
 * batch, not one message per wake-up), and looks again on its own after this many ms: a message that
 * fits in less never waits longer than that. */
const SPACE_RECHECK = 1
/** How long (ms) a consumer watches for a message before it sleeps (machines with more than one
 * CPU): twice the time the last one took to come, between WATCH_MIN and WATCH_MAX, when that was less
 * than WATCH_MAX (a steady stream, such as large messages: catching the next one costs less than a
 * wake-up, which the producer pays, ~30-60 us on a VM); WATCH_MIN otherwise. */
const WATCH_MIN = 0.05
/** A sleeping consumer looks again after this many ms even if nobody woke it: a producer killed
 * between taking the 'consumer sleeping' flag and its wake-up leaves no one else to wake it. */
const DATA_RECHECK = 200
const WATCH_MAX = 0.25
const MULTI_CPU = os.availableParallelism() > 1
const MAX_CAPACITY = 2 ** 30
const NO_WANT = -1 // 0xffffffff as an Int32
/** On Windows a closed region's views stay mapped (README, Lifetime): ask the region on every call. */
const STALE_VIEWS_KEEP_MEMORY = process.platform === 'win32'
const {
  load: aLoad,
  store: aStore,
  add: aAdd,
  exchange: aExchange,
  compareExchange: aCompareExchange,
} = Atomics

const corrupt = (why: string): Error =>
  coded(Error, 'ERR_MAPSHARE_CHANNEL_CORRUPT', `the channel's memory is not a valid channel: ${why}`)
const align8 = (n: number): number => Math.ceil(n / 8) * 8
/** Whether a record of `need` bytes fits after `tail` (with the padding to the start, if it would
 * run past the end) while the consumer is at `head`. */
function fits(tail: number, head: number, need: number, cap: number): boolean {
  const pos = tail & (cap - 1)
  const pad = pos + need > cap ? cap - pos : 0
  return ((tail - head) >>> 0) + pad + need <= cap
}

type Data = string | ArrayBuffer | SharedArrayBuffer | ArrayBufferView

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data // Buffers too: no new view per message
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data)
  throw invalidArgType('data', 'a string, an ArrayBuffer or a typed array, Buffer or DataView', data)
}

/** Where a message goes: the tail it is placed at, its position, the padding before it, its record's
 * size, and where its payload starts (from the channel's start). */
interface Place {
  readonly tail: number
  readonly pos: number
  readonly pad: number
  readonly need: number
  readonly at: number
}
/** A message found by the consumer: the head before it, where its payload is, its length and record size. */
interface Found {
  readonly head: number
  readonly at: number
  readonly len: number
  readonly size: number
}

/** Room for one message, written in place (`Channel.tryReserve`). */
export interface Reservation {
  /** Where to write the message: the channel's own memory where views exist (else a scratch copy). */
  readonly buffer: Buffer<ArrayBuffer>
  /** Publishes the message (its first `length` bytes; default: all). */
  commit(length?: number): void
  /** Gives the room back: no message. */
  abort(): void
  /** `using`: gives the room back unless committed or aborted before. */
  [Symbol.dispose](): void
}

/** What `Channel.stats()` reports; counts run mod 2^32. */
export interface ChannelStats {
  capacity: number
  /** Bytes taken by messages not yet released. */
  used: number
  sent: number
  received: number
  /** Messages sent and not yet received: how far the consumer is behind. */
  pending: number
  ended: boolean
}

/** Options of the waiting forms. */
export interface WaitOptions {
  /** Milliseconds to wait at most (default: no limit). */
  timeout?: number
}
/** Options of the promise forms. */
export interface AsyncWaitOptions extends WaitOptions {
  /** Aborts the wait: the promise rejects with the signal's reason. */
  signal?: AbortSignal
}

const KEY = Symbol('mapshare.Channel')

/** The options of one sleep on the region: the signal only where the caller gave one. */
const sleepOptions = (
  timeout: number,
  signal: AbortSignal | undefined,
): { timeout: number; signal?: AbortSignal } => (signal === undefined ? { timeout } : { timeout, signal })

/**
 * A queue of variable-size messages in a shared region: one consumer, and one producer or many
 * (`producers: 'many'`, Linux: they take the channel's robust lock to place a message). The layout is
 * in `include/mapshare_channel.h` for C peers.
 */
export class Channel implements AsyncIterable<Buffer<ArrayBuffer>> {
  #r: Region
  #base: number
  #cap: number
  #max: number
  #many: boolean
  #mutex: Mutex | null = null
  /** Set by close(). */
  #closed = false
  #u8: Uint8Array | null = null // a view of the channel's bytes, or null: copies through the region
  #w: Int32Array | null = null // the same bytes as 32-bit words (with #u8)
  // Each side's last look at the other's position, kept while its own position is where it left
  // it (else another object of this or another process sent or received in between: look again).
  // Where this object left its own side: the position and the side's message count (a position
  // alone comes back after 2^32 bytes; -1: nowhere yet).
  #headSeen = 0
  #tailLeft = -1
  #sentLeft = -1
  #tailSeen = 0
  #headLeft = -1
  #receivedLeft = -1
  #sleepers = 0 // this object's receives asleep now (the flag stays set until the last one leaves)
  #peeked: Found | null = null
  #reserved = false
  #watch = WATCH_MIN

  /** Makes a channel at `byteOffset` (a multiple of 64) over `byteLength` bytes (default: the rest of the region). */
  static create(
    region: Region,
    options?: { byteOffset?: number; byteLength?: number; producers?: 'single' | 'many' },
  ): Channel {
    const o = optionsObject(options, ['byteOffset', 'byteLength', 'producers'])
    const r = checkRegion(region)
    const base = checkPlace(r, o.byteOffset)
    const byteLength = o.byteLength
    const room = byteLength === undefined ? r.length - base : byteLength
    if (
      typeof room !== 'number' ||
      !Number.isSafeInteger(room) ||
      room < HEADER + MIN_CAPACITY ||
      base + room > r.length
    )
      throw outOfRange(
        'options.byteLength',
        `${HEADER + MIN_CAPACITY} to ${HEADER + MAX_CAPACITY} bytes inside the region (${r.length - base} from byteOffset ${base})`,
        room,
      )
    const producers = o.producers ?? 'single'
    if (producers !== 'single' && producers !== 'many')
      throw invalidArgValue('options.producers', producers, "must be 'single' or 'many'")
    let cap = MIN_CAPACITY
    while (cap * 2 <= Math.min(room - HEADER, MAX_CAPACITY)) cap *= 2
    if (producers === 'many') r.mutex(base + O.lock) // ERR_FEATURE_UNAVAILABLE_ON_PLATFORM where there is no lock
    for (const word of Object.values(O)) if (word !== O.magic) r.store(base + word, 0)
    r.store(base + O.version, VERSION)
    r.store(base + O.capacity, cap)
    r.store(base + O.flags, producers === 'many' ? 1 : 0)
    r.store(base + O.maxMessage, cap / 2 - 8)
    r.store(base + O.spaceWanted, NO_WANT)
    r.store(base + O.magic, MAGIC) // last: a channel is complete once it has its magic
    return new Channel(KEY, r, base)
  }

  /** Opens the channel made at `byteOffset` of `region` (by this or another process). */
  static open(region: Region, options?: { byteOffset?: number }): Channel {
    const o = optionsObject(options, ['byteOffset'])
    const r = checkRegion(region)
    return new Channel(KEY, r, checkPlace(r, o.byteOffset))
  }

  /** Channels are made by `Channel.create()` and `Channel.open()`. */
  private constructor(key: typeof KEY, region: Region, base: number) {
    if (key !== KEY)
      throw coded(TypeError, 'ERR_ILLEGAL_CONSTRUCTOR', 'Channel.create() and Channel.open() make channels')
    markUncloneable(this)
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
    this.#cap = cap
    this.#max = cap / 2 - 8 // from the capacity, whatever the header now says
    this.#many = flags === 1
    if (this.#many) this.#mutex = region.mutex(base + O.lock)
    // Producer and consumer both write the header: a read-only mapping fails here, with the region's
    // own error, rather than later (its views are copy-on-write: writes would stay in this process).
    region.add(base + O.received, 0)
    this.#takeViews()
    this.#headSeen = this.#ld(O.head) >>> 0
    this.#tailSeen = this.#ld(O.tail) >>> 0
  }

  /** Views of the channel's bytes where the region gives them (after a resize: of the new mapping). */
  #takeViews(): void {
    this.#u8 = this.#w = null
    const u8 = viewOrNull(this.#r, Uint8Array, this.#base, HEADER + this.#cap)
    if (u8 === null) return
    this.#w = new Int32Array(u8.buffer, u8.byteOffset, (HEADER + this.#cap) / 4)
    this.#u8 = u8
  }

  /** At the start of every call: ERR_MAPSHARE_CLOSED once the region is closed, new views once it
   * was resized. Old views read zeros after either (the magic is gone), so where they do (not on
   * Windows) a view that still shows the magic needs no question to the region. */
  #live(): void {
    if (this.#closed)
      throw coded(Error, 'ERR_MAPSHARE_CLOSED', 'this Channel was closed (its region may still be open)')
    this.#liveMemory()
  }

  /** #live() without the Channel's own close: a sleeper's cleanup still runs after close(). */
  #liveMemory(): void {
    const w = this.#w
    if (w !== null && w[0] === MAGIC && !STALE_VIEWS_KEEP_MEMORY) return
    if (this.#r.load(this.#base + O.magic) !== MAGIC) throw corrupt('no channel magic at this offset')
    if (w !== null && w[0] !== MAGIC) this.#takeViews()
  }

  // Header words by offset from the channel's start: atomics on the view, or the region's own.
  #ld(off: Word): number {
    return this.#w !== null ? aLoad(this.#w, off >> 2) : this.#r.load(this.#base + off)
  }
  #st(off: Word, v: number): void {
    if (this.#w !== null) aStore(this.#w, off >> 2, v)
    else this.#r.store(this.#base + off, v)
  }
  #add(off: Word, v: number): number {
    return this.#w !== null ? aAdd(this.#w, off >> 2, v) : this.#r.add(this.#base + off, v)
  }
  #swap(off: Word, v: number): number {
    return this.#w !== null ? aExchange(this.#w, off >> 2, v) : this.#r.exchange(this.#base + off, v)
  }
  #cas(off: Word, expected: number, v: number): number {
    return this.#w !== null
      ? aCompareExchange(this.#w, off >> 2, expected, v)
      : this.#r.compareExchange(this.#base + off, expected, v)
  }
  // Plain accesses: record header words (ordered by the atomic tail: published after, read before)
  // and words with one writer.
  #put(off: number, v: number): void {
    if (this.#w !== null) this.#w[off >> 2] = v
    else this.#r.store(this.#base + off, v)
  }
  #get(off: number): number {
    return this.#w !== null ? (this.#w[off >> 2] as number) : this.#r.load(this.#base + off)
  }

  /** Data bytes; a message takes 8 bytes more, rounded up to 8. */
  get capacity(): number {
    return this.#cap
  }

  /** The largest message: half the capacity, less its record header. */
  get maxMessageSize(): number {
    return this.#max
  }

  /** Whether several producers may send (they take the channel's lock to place a message). */
  get manyProducers(): boolean {
    return this.#many
  }

  /** How the channel is doing: bytes in use, messages sent and received (counted mod 2^32), ended. */
  stats(): ChannelStats {
    this.#live()
    const { head, tail } = this.#positions()
    const sent = this.#ld(O.sent) >>> 0
    const received = this.#ld(O.received) >>> 0
    const used = (tail - head) >>> 0
    return {
      capacity: this.#cap,
      used,
      sent,
      received,
      pending: pendingOf(used, sent, received),
      ended: this.#ld(O.ended) !== 0,
    }
  }

  #positions(): { head: number; tail: number } {
    const head = this.#ld(O.head) >>> 0
    const tail = this.#ld(O.tail) >>> 0
    checkPositions(head, tail, this.#cap)
    return { head, tail }
  }

  // --- producing ---

  /** Where a message of `len` bytes would go, or null if there is no room now. The head is read
   * again only when the last one seen leaves no room (with many producers: always). */
  #place(len: number): Place | null {
    const cap = this.#cap
    const need = 8 + align8(len)
    let tail = this.#ld(O.tail) >>> 0
    if (
      this.#many ||
      tail !== this.#tailLeft ||
      (this.#get(O.sent) | 0) !== this.#sentLeft ||
      !fits(tail, this.#headSeen, need, cap)
    ) {
      const head = this.#ld(O.head) >>> 0
      tail = this.#ld(O.tail) >>> 0 // after the head (other producers hold the lock now)
      checkPositions(head, tail, cap)
      this.#headSeen = head
      if (!fits(tail, head, need, cap)) return null
    }
    const pos = tail & (cap - 1)
    const pad = pos + need > cap ? cap - pos : 0
    return { tail, pos, pad, need, at: HEADER + (pad ? 0 : pos) + 8 }
  }

  /** Whether a message of `len` bytes may fit now: the last look of a producer about to sleep. It
   * holds no lock, so with many producers both positions may move between the two reads (the tail
   * then looks more than the capacity ahead): that says yes, and trySend looks again under the lock. */
  #mayFit(len: number): boolean {
    const head = this.#ld(O.head) >>> 0
    const tail = this.#ld(O.tail) >>> 0
    return (tail - head) >>> 0 > this.#cap || fits(tail, head, 8 + align8(len), this.#cap)
  }

  /** Writes the records' headers and publishes the tail: the message now exists. */
  #publish(p: Place, len: number): void {
    if (p.pad) {
      this.#put(HEADER + p.pos, p.pad - 8)
      this.#put(HEADER + p.pos + 4, KIND_PAD)
    }
    this.#put(p.at - 8, len)
    this.#put(p.at - 4, KIND_MESSAGE)
    this.#tailLeft = (p.tail + p.pad + p.need) >>> 0
    this.#st(O.tail, this.#tailLeft)
    this.#sentLeft = (this.#get(O.sent) + 1) | 0
    this.#put(O.sent, this.#sentLeft) // one writer (the producer, or the lock's holder)
    if (this.#ld(O.dataWaiters) !== 0 && this.#swap(O.dataWaiters, 0) !== 0) {
      this.#add(O.dataSeq, 1)
      this.#r.notify(this.#base + O.dataSeq)
    }
  }

  #write(at: number, bytes: Uint8Array): void {
    if (this.#u8 !== null) this.#u8.set(bytes, at)
    else this.#r.write(bytes, this.#base + at)
  }

  #checkSize(len: number): void {
    if (len > this.#max)
      throw outOfRange('data.length', `at most ${this.#max} (this channel's largest message)`, len)
    if (this.#reserved)
      throw coded(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'a reservation is open: commit() or abort() it first')
    this.#live()
    if (this.#get(O.ended) !== 0)
      throw coded(Error, 'ERR_MAPSHARE_CHANNEL_ENDED', 'the channel was ended: no more messages can be sent')
  }

  /** Copies `data` in as one message; false if there is no room now. */
  trySend(data: Data): boolean {
    const bytes = toBytes(data)
    this.#checkSize(bytes.length)
    const mutex = this.#mutex
    if (mutex !== null && mutex.lock() === null) return false
    try {
      const p = this.#place(bytes.length)
      if (p === null) return false
      this.#write(p.at, bytes)
      this.#publish(p, bytes.length)
      return true
    } finally {
      mutex?.unlock()
    }
  }

  /** `trySend`, waiting (this thread blocks) for room up to `timeout` ms; false on timeout. */
  send(data: Data, options?: WaitOptions): boolean {
    const timeout = checkTimeout(optionsObject(options, ['timeout']).timeout)
    const bytes = toBytes(data)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    for (;;) {
      const round = this.#sendRound(bytes, until)
      if (typeof round === 'boolean') return round
      try {
        this.#sleep(() => this.#r.wait(this.#base + O.spaceSeq, round.seen, round.ms))
      } finally {
        this.#leaveSpaceWait()
      }
    }
  }

  /** `send` without blocking: resolves true once the message is in, false on timeout; `signal` aborts. */
  async sendAsync(data: Data, options?: AsyncWaitOptions): Promise<boolean> {
    const o = optionsObject(options, ['timeout', 'signal'])
    const timeout = checkTimeout(o.timeout)
    const signal = abortSignal(o.signal)
    const bytes = toBytes(data)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    for (;;) {
      const round = this.#sendRound(bytes, until)
      if (typeof round === 'boolean') return round
      try {
        await this.#sleepAsync(
          this.#r.waitAsync(this.#base + O.spaceSeq, round.seen, sleepOptions(round.ms, signal)),
        )
      } finally {
        this.#leaveSpaceWait()
      }
      if (this.#closed) return false // closed while it slept
    }
  }

  /**
   * One round of a waiting send: true once the message is in, false past `until`; else this producer
   * is announced as sleeping (the caller sleeps on the space sequence `seen` for `ms` at most, then
   * calls #leaveSpaceWait()).
   */
  #sendRound(bytes: Uint8Array, until: number): boolean | { seen: number; ms: number } {
    for (;;) {
      if (this.trySend(bytes)) return true
      const seen = this.#enterSpaceWait(bytes.length)
      let sleeping = false
      try {
        if (this.#mayFit(bytes.length)) continue
        const left = until - Date.now()
        if (left <= 0) return false
        sleeping = true
        return { seen, ms: Math.min(left, SPACE_RECHECK) }
      } finally {
        if (!sleeping) this.#leaveSpaceWait()
      }
    }
  }

  #leaveSpaceWait(): void {
    this.#tidy(() => this.#add(O.spaceWaiters, -1))
  }

  /** Announces a sleeping producer that wants a quarter of the channel free (at least room for two
   * records of `len`) before it is woken (see SPACE_RECHECK). */
  #enterSpaceWait(len: number): number {
    const seen = this.#ld(O.spaceSeq)
    this.#add(O.spaceWaiters, 1)
    this.#st(O.spaceWanted, Math.min(this.#cap, Math.max(this.#cap / 4, 2 * (8 + align8(len)))))
    return seen
  }

  /**
   * Room for a message of `length` bytes, written in place: `{ buffer, commit(length?), abort() }`,
   * or null if there is no room now. `buffer` is the channel's own memory where views exist (a
   * scratch Buffer copied in at `commit()` elsewhere). With many producers the channel's lock is held
   * until `commit()` or `abort()`: keep it short.
   */
  tryReserve(length: number): Reservation | null {
    integer(length, 'length')
    this.#checkSize(length)
    const mutex = this.#mutex
    if (mutex !== null && mutex.lock() === null) return null
    let p: Place | null = null
    try {
      p = this.#place(length)
    } finally {
      if (mutex !== null && p === null) mutex.unlock()
    }
    if (p === null) return null
    const place = p
    this.#reserved = true
    const u8 = this.#u8
    const buffer =
      u8 !== null ? Buffer.from(u8.buffer as ArrayBuffer, u8.byteOffset + p.at, length) : Buffer.alloc(length)
    let open = true
    const end = () => {
      if (!open)
        throw coded(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'this reservation was already committed or aborted')
      open = false
      this.#reserved = false
    }
    return {
      buffer,
      commit: (used: number = length) => {
        integer(used, 'length', 0, length)
        end()
        try {
          this.#live()
          if (this.#u8 !== u8)
            throw coded(
              Error,
              'ERR_MAPSHARE_CHANNEL_STATE',
              'the region was resized while this reservation was open: nothing was sent',
            )
          if (u8 === null) this.#r.write(buffer.subarray(0, used), this.#base + place.at)
          this.#publish({ ...place, need: 8 + align8(used) }, used)
        } finally {
          mutex?.unlock()
        }
      },
      abort: () => {
        end()
        mutex?.unlock()
      },
      [Symbol.dispose]: () => {
        if (!open) return
        end()
        mutex?.unlock()
      },
    }
  }

  /** No more messages: the consumer's `receive`/`receiveAsync` give null (and iteration ends) once it has read the rest. */
  end(): void {
    this.#live()
    this.#st(O.ended, 1)
    this.#add(O.dataSeq, 1)
    this.#r.notify(this.#base + O.dataSeq)
  }

  /**
   * Closes this Channel object (not the channel in memory, nor its region; other objects and
   * processes go on): pending `receiveAsync`/`peekAsync`/`receiveIntoAsync` resolve null and pending
   * `sendAsync` false, an iteration ends, and every later call is `ERR_MAPSHARE_CLOSED`. Idempotent.
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    // Wake this object's sleepers (a wake-up that changes nothing for the others, which look again).
    try {
      this.#r.notify(this.#base + O.dataSeq)
      this.#r.notify(this.#base + O.spaceSeq)
    } catch {
      // the region is closed already: its waits were cancelled with it
    }
  }

  /** `using`: `close()`. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** `await using`: `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  // --- consuming ---

  /** The next complete message: where its payload is, and how far the head moves past it; or null.
   * The tail is read again only when the last one seen says there is nothing more. */
  #next(): Found | null {
    const cap = this.#cap
    for (;;) {
      const head = this.#get(O.head) >>> 0 // one writer: this consumer
      let tail = this.#tailSeen
      if (
        head === tail ||
        head !== this.#headLeft ||
        (this.#get(O.received) | 0) !== this.#receivedLeft ||
        (tail - head) >>> 0 > cap
      ) {
        tail = this.#tailSeen = this.#ld(O.tail) >>> 0
        if (head === tail) return null
      }
      checkPositions(head, tail, cap)
      const avail = (tail - head) >>> 0
      const pos = head & (cap - 1)
      if (avail < 8 || pos + 8 > cap) throw corrupt(`a record header at ${pos} does not fit`)
      const len = this.#get(HEADER + pos) >>> 0
      const kind = this.#get(HEADER + pos + 4)
      if (kind === KIND_PAD) {
        if (len !== cap - pos - 8 || cap - pos > avail) throw corrupt(`padding of ${len} bytes at ${pos}`)
        const next = (this.#headLeft = (head + cap - pos) >>> 0)
        this.#st(O.head, next)
        this.#wakeProducers(next)
        continue
      }
      const size = 8 + align8(len)
      if (kind !== KIND_MESSAGE || len > this.#max || pos + size > cap || size > avail)
        throw corrupt(`a record of kind ${kind} and length ${len} at ${pos}`)
      return { head, at: HEADER + pos + 8, len, size }
    }
  }

  #release(n: Found): void {
    const head = (this.#headLeft = (n.head + n.size) >>> 0)
    this.#st(O.head, head)
    this.#receivedLeft = (this.#get(O.received) + 1) | 0
    this.#put(O.received, this.#receivedLeft) // one writer: the consumer
    this.#wakeProducers(head)
  }

  /** Wakes sleeping producers once the room they wait for is free: once per wait (not on every
   * message: they would wake, send one message, and sleep again). */
  #wakeProducers(head: number): void {
    if (this.#ld(O.spaceWaiters) === 0) return
    const want = this.#ld(O.spaceWanted)
    const free = this.#cap - ((this.#ld(O.tail) - head) >>> 0)
    if (free >= want >>> 0 && this.#cas(O.spaceWanted, want, NO_WANT) === want) {
      this.#add(O.spaceSeq, 1)
      this.#r.notify(this.#base + O.spaceSeq)
    }
  }

  #copy(n: Found): Buffer<ArrayBuffer> {
    if (this.#u8 !== null) return copyOut(this.#u8.subarray(n.at, n.at + n.len))
    return this.#r.read(this.#base + n.at, n.len)
  }

  #checkNotPeeked(): void {
    if (this.#peeked !== null)
      throw coded(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'a peeked message is open: release() it first')
  }

  /** The next message, copied out (a Buffer), or null if there is none now. */
  tryReceive(): Buffer<ArrayBuffer> | null {
    this.#checkNotPeeked()
    this.#live()
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
  tryPeek(): Buffer<ArrayBuffer> | null {
    this.#checkNotPeeked()
    this.#live()
    const n = this.#next()
    if (n === null) return null
    this.#peeked = n
    if (this.#u8 === null) return this.#r.read(this.#base + n.at, n.len)
    return Buffer.from(this.#u8.buffer as ArrayBuffer, this.#u8.byteOffset + n.at, n.len) // a region's views are over ArrayBuffers
  }

  /** Frees the message `tryPeek()`/`peek()`/`peekAsync()` gave. */
  release(): void {
    if (this.#peeked === null)
      throw coded(Error, 'ERR_MAPSHARE_CHANNEL_STATE', 'release() without a peeked message')
    const n = this.#peeked
    this.#peeked = null // even if the region is gone: nothing of it is left to release
    this.#live()
    this.#release(n)
  }

  /**
   * Copies the next message into `target` (a Buffer, typed array or DataView) and returns its length,
   * or null if there is none now. `ERR_OUT_OF_RANGE` if it does not fit (the message stays).
   */
  tryReceiveInto(target: ArrayBufferView): number | null {
    if (!ArrayBuffer.isView(target))
      throw invalidArgType('target', 'a Buffer, typed array or DataView', target)
    this.#checkNotPeeked()
    this.#live()
    const n = this.#next()
    if (n === null) return null
    if (n.len > target.byteLength)
      throw coded(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `the next message has ${n.len} bytes; the target holds ${target.byteLength}`,
      )
    const dst =
      target instanceof Uint8Array ? target : new Uint8Array(target.buffer, target.byteOffset, n.len)
    if (this.#u8 !== null) dst.set(this.#u8.subarray(n.at, n.at + n.len))
    else this.#r.readInto(dst.subarray(0, n.len), this.#base + n.at)
    this.#release(n)
    return n.len
  }

  /** `tryReceive`, waiting (this thread blocks) up to `timeout` ms; null on timeout or once ended and empty. */
  receive(options?: WaitOptions): Buffer<ArrayBuffer> | null {
    return this.#waitFor(() => this.tryReceive(), options)
  }

  /** `tryReceiveInto`, waiting (this thread blocks) up to `timeout` ms; null on timeout or once ended and empty. */
  receiveInto(target: ArrayBufferView, options?: WaitOptions): number | null {
    return this.#waitFor(() => this.tryReceiveInto(target), options)
  }

  /** `tryPeek`, waiting (this thread blocks) up to `timeout` ms; null on timeout or once ended and empty. */
  peek(options?: WaitOptions): Buffer<ArrayBuffer> | null {
    return this.#waitFor(() => this.tryPeek(), options)
  }

  /** `peek` as a promise (null on timeout, or ended and empty); `signal` aborts. */
  peekAsync(options?: AsyncWaitOptions): Promise<Buffer<ArrayBuffer> | null> {
    return this.#waitForAsync(() => this.tryPeek(), options)
  }

  /** `receive` without blocking: a promise of the next message (null on timeout, or ended and empty); `signal` aborts. */
  receiveAsync(options?: AsyncWaitOptions): Promise<Buffer<ArrayBuffer> | null> {
    return this.#waitForAsync(() => this.tryReceive(), options)
  }

  /** `receiveInto` as a promise. */
  receiveIntoAsync(target: ArrayBufferView, options?: AsyncWaitOptions): Promise<number | null> {
    return this.#waitForAsync(() => this.tryReceiveInto(target), options)
  }

  #waitFor<T>(take: () => T | null, options: WaitOptions | undefined): T | null {
    const timeout = checkTimeout(optionsObject(options, ['timeout']).timeout)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    let began = 0
    for (;;) {
      const m = take()
      if (m !== null) return this.#came(m, began)
      if (began === 0) began = performance.now()
      // Watch for a message a moment before announcing a sleep (which makes every producer notify).
      if (MULTI_CPU && timeout !== 0) {
        const stop = performance.now() + Math.min(this.#watch, until - Date.now())
        while (!this.#ready() && performance.now() < stop && this.#ld(O.ended) === 0);
        if (this.#ready()) continue
      }
      const round = this.#dataRound(until)
      if (round === 'again') continue
      if (round === 'none') return null
      try {
        this.#sleep(() => this.#r.wait(this.#base + O.dataSeq, round.seen, round.ms))
      } finally {
        this.#leaveDataWait()
      }
    }
  }

  async #waitForAsync<T>(take: () => T | null, options: AsyncWaitOptions | undefined): Promise<T | null> {
    const o = optionsObject(options, ['timeout', 'signal'])
    const timeout = checkTimeout(o.timeout)
    const signal = abortSignal(o.signal)
    const until = timeout === undefined ? Infinity : Date.now() + timeout
    let began = 0
    for (;;) {
      const m = take()
      if (m !== null) return this.#came(m, began)
      if (began === 0) began = performance.now()
      // Watch for a message for a few turns of the event loop (which keeps running everything else)
      // before announcing a sleep, which makes every producer notify.
      if (MULTI_CPU && timeout !== 0 && !(signal !== undefined && isAborted(signal))) {
        const stop = performance.now() + Math.min(this.#watch, until - Date.now())
        while (!this.#closed && !this.#ready() && performance.now() < stop && this.#ld(O.ended) === 0)
          await new Promise(setImmediate)
        if (this.#closed) return null
        if (this.#ready()) continue
      }
      const round = this.#dataRound(until)
      if (round === 'again') continue
      if (round === 'none') return null
      try {
        await this.#sleepAsync(
          this.#r.waitAsync(this.#base + O.dataSeq, round.seen, sleepOptions(round.ms, signal)),
        )
      } finally {
        this.#leaveDataWait()
      }
      if (this.#closed) return null // closed while it slept
    }
  }

  /** A message came after the consumer began waiting at `began` (0: it did not wait): sets the next watch. */
  #came<T>(m: T, began: number): T {
    if (began !== 0) {
      const took = performance.now() - began
      this.#watch = took < WATCH_MAX ? Math.min(WATCH_MAX, Math.max(WATCH_MIN, 2 * took)) : WATCH_MIN
    }
    return m
  }

  /**
   * After the watch: announces this consumer as sleeping, unless a message came meanwhile (`'again'`),
   * the channel ended or `until` passed (`'none'`); else the data sequence seen and how long to sleep
   * (the caller sleeps, then calls #leaveDataWait()).
   */
  #dataRound(until: number): 'again' | 'none' | { seen: number; ms: number } {
    const seen = this.#enterDataWait()
    let sleeping = false
    try {
      if (this.#ready()) return 'again'
      if (this.#ld(O.ended) !== 0) return 'none'
      const left = until - Date.now()
      if (left <= 0) return 'none'
      sleeping = true
      return { seen, ms: Math.min(left, DATA_RECHECK) }
    } finally {
      if (!sleeping) this.#leaveDataWait()
    }
  }

  #enterDataWait(): number {
    const seen = this.#ld(O.dataSeq)
    this.#sleepers++
    this.#st(O.dataWaiters, 1)
    return seen
  }

  #leaveDataWait(): void {
    if (--this.#sleepers === 0) this.#tidy(() => this.#st(O.dataWaiters, 0))
  }

  /** A sleep on the region: a resize cancels it (ERR_MAPSHARE_CLOSED) but the channel goes on over
   * the new mapping, so that is a wake-up; a close is not (#live() throws it again). */
  #sleep(wait: () => unknown): void {
    try {
      wait()
    } catch (e) {
      if (codeOf(e) !== 'ERR_MAPSHARE_CLOSED') throw e
      this.#live()
    }
  }

  async #sleepAsync(waiting: Promise<unknown>): Promise<void> {
    try {
      await waiting
    } catch (e) {
      if (codeOf(e) !== 'ERR_MAPSHARE_CLOSED') throw e
      this.#live()
    }
  }

  /** A sleeper's own cleanup, through the current mapping (after a resize the old views write into
   * inert pages); nothing to tidy once the region is closed. */
  #tidy(fn: () => void): void {
    try {
      this.#liveMemory()
      fn()
    } catch {
      // closed (or corrupt): the next call says so
    }
  }

  #ready(): boolean {
    this.#live()
    const { head, tail } = this.#positions()
    return head !== tail
  }

  /** `util.inspect(channel)`: its size, how far the consumer is behind, whether it ended. */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: unknown,
    inspect?: (v: unknown, o: unknown) => string,
  ): string {
    let shown: Record<string, unknown>
    try {
      const s = this.stats()
      shown = {
        capacity: s.capacity,
        maxMessageSize: this.#max,
        manyProducers: this.#many,
        used: s.used,
        pending: s.pending,
        ended: s.ended,
      }
    } catch (e) {
      shown = { error: codeOf(e) } // closed, or the memory is no channel any more
    }
    return `Channel ${inspect ? inspect(shown, options) : JSON.stringify(shown)}`
  }

  /** Messages (copies) as they come, sleeping in between; ends when the channel is ended and empty. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer<ArrayBuffer>, void, undefined> {
    for (;;) {
      // A message already there is taken at once; only an empty channel waits.
      const m = this.tryReceive() ?? (await this.receiveAsync())
      if (m === null) return
      yield m
    }
  }
}

/**
 * Messages pending, from the counters bounded by the positions. The counters are bumped after the
 * positions move: a producer or consumer killed in between leaves them off by one for good. What the
 * positions say bounds them: none when the ring is empty, else at least one and at most one per 8
 * bytes in use.
 */
function pendingOf(used: number, sent: number, received: number): number {
  return used === 0 ? 0 : Math.min(Math.max((sent - received) | 0, 1), used / 8)
}

/** What a channel's header says, read without joining the channel (see `channelHeader`). */
export interface ChannelHeader extends ChannelStats {
  byteOffset: number
  /** Whether several producers may send. */
  manyProducers: boolean
  /** The producers' lock word (many producers), decoded. */
  lock: LockWordState
}

/**
 * Reads the header of a channel at `byteOffset` of `region` without joining it (read-only regions
 * too): for `npx mapshare inspect` and `ls`. Null when no channel of this protocol lives there; a
 * header whose fields contradict each other is `ERR_MAPSHARE_CHANNEL_CORRUPT`.
 */
export function channelHeader(region: Region, byteOffset = 0): ChannelHeader | null {
  if (byteOffset % 64 !== 0 || byteOffset + HEADER > region.length) return null
  const ld = (o: number) => region.load(byteOffset + o) >>> 0
  if (ld(O.magic) !== MAGIC || ld(O.version) !== VERSION) return null
  const capacity = ld(O.capacity)
  const head = ld(O.head)
  const tail = ld(O.tail)
  checkPositions(head, tail, capacity)
  const used = (tail - head) >>> 0
  const sent = ld(O.sent)
  const received = ld(O.received)
  return {
    byteOffset,
    capacity,
    used,
    sent,
    received,
    pending: pendingOf(used, sent, received),
    ended: ld(O.ended) !== 0,
    manyProducers: ld(O.flags) === 1,
    lock: decodeLockWord(ld(O.lock)),
  }
}

/** The positions as a peer may have left them: 8-aligned, at most the capacity apart. */
function checkPositions(head: number, tail: number, cap: number): void {
  if ((head & 7) !== 0 || (tail & 7) !== 0)
    throw corrupt(`head ${head} or tail ${tail} is not a multiple of 8 (records are 8-aligned)`)
  if ((tail - head) >>> 0 > cap)
    throw corrupt(`head ${head} and tail ${tail} are more than the capacity apart`)
}

/** The channel's offset in `region`: a multiple of 64 with room for a header and the smallest ring. */
function checkPlace(region: Region, byteOffset: unknown): number {
  const at = byteOffset === undefined ? 0 : integer(byteOffset, 'options.byteOffset')
  if (at % 64 !== 0) throw unaligned(`a channel starts on a multiple of 64 bytes, not at ${at}`)
  if (at + HEADER + MIN_CAPACITY > region.length)
    throw outOfRange(
      'options.byteOffset',
      `at most ${region.length - HEADER - MIN_CAPACITY} (no room for a channel after it)`,
      at,
    )
  return at
}
