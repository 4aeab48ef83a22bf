// Which objects are mapshare's own: a private field stamped on every region and Mutex the addon
// made. A region is stamped on its first method call, once the addon has recognised it as one of
// its own (its class's `_handle` unwraps only objects the addon made as that class), with the field
// of its class; a Mutex when `region.mutex()` makes it. A Proxy of a region, `Object.create(MmapFile.prototype)` or an object carrying a copied symbol
// cannot have the field (`#state in value` is V8's own brand check), and the field holds the fast
// path's per-object state, so finding the state is the brand check.
import type { FastBuffer } from './native.ts'

/** A region's fast-path state: made once per region, then only mutated (see fast-path.ts). */
export interface RegionState {
  /** The region's number for the addon's by-handle functions (-1: not asked yet). */
  handle: number
  /** Native calls so far: the fast path is set up after a few (a region used once never pays for it). */
  calls: number
  /** Set by close(), detach() and dispose before the native call: never set up again. */
  closed: boolean
  /** Bytes the typed arrays cover (0: no fast path now). */
  len: number
  u8: Uint8Array | null
  /** The region as 32-bit words; non-null means every other field of the fast path is set. */
  i32: Int32Array | null
  i64: BigInt64Array | null
  /** Whether plain copies are safe (the backing cannot shrink under them). */
  copies: boolean
  /** The addon's `_fastPath` for this region. */
  readonly fastPath: () => FastBuffer | null
}

/** A Mutex's fast-path state: its region's state and handle, the word's index, and the region itself. */
export interface MutexState {
  readonly region: RegionState
  readonly handle: number
  readonly index: number
  readonly of: { load(byteOffset: number): number }
}

// A base class whose constructor returns the object it is given: `new Stamp(o)` adds the private
// field to `o` itself.
const Identity = function (o: object): object {
  return o
} as unknown as new (o: object) => object

class MutexStamp extends Identity {
  #state: MutexState | null
  private constructor(o: object, state: MutexState | null) {
    super(o)
    this.#state = state
  }
  static stamp(o: object, state: MutexState | null): void {
    new MutexStamp(o, state)
  }
  static is(o: unknown): boolean {
    return typeof o === 'object' && o !== null && #state in o
  }
  static stateOf(o: unknown): MutexState | null | undefined {
    return typeof o === 'object' && o !== null && #state in o ? o.#state : undefined
  }
}

/** The brand of one region class: its own private field, so that an object of one class never
 * passes as another's. */
export interface RegionBrand {
  /** Marks `region` as made by the addon as this class, with its fast-path state (the caller has
   * checked that it is). A frozen or sealed region is not stamped (as before the brand, a region made
   * non-extensible keeps to the native calls; the benchmark measures those that way), nor one a
   * runtime refuses to add a private field to: `anyStateOf` finds those, with no fast path. */
  stamp(region: object, state: RegionState): RegionState
  /** The state of a region stamped as this class; undefined for anything else (and regions not stamped yet). */
  stateOf(value: unknown): RegionState | undefined
  /** `stateOf`, also for the regions of this class that could not be stamped. */
  anyStateOf(value: unknown): RegionState | undefined
}

/** A new brand, for one region class. */
export function regionBrand(): RegionBrand {
  class RegionStamp extends Identity {
    #state: RegionState
    private constructor(o: object, state: RegionState) {
      super(o)
      this.#state = state
    }
    static stamp(o: object, state: RegionState): void {
      new RegionStamp(o, state)
    }
    static stateOf(o: unknown): RegionState | undefined {
      return typeof o === 'object' && o !== null && #state in o ? o.#state : undefined
    }
  }
  const unstamped = new WeakMap<object, RegionState>()
  return {
    stamp(region, state) {
      try {
        if (!Object.isExtensible(region)) throw new TypeError('not extensible')
        RegionStamp.stamp(region, state)
      } catch {
        state.closed = true // never set up: such a region always takes the native calls
        unstamped.set(region, state)
      }
      return state
    },
    stateOf: RegionStamp.stateOf,
    anyStateOf: (value) =>
      RegionStamp.stateOf(value) ??
      (typeof value === 'object' && value !== null ? unstamped.get(value) : undefined),
  }
}

/** Marks `mutex` as made by the addon; `state` is null where it has no fast path. */
export const stampMutex: (mutex: object, state: MutexState | null) => void = MutexStamp.stamp
/** Whether `value` is a Mutex the addon made. */
export const isMutex: (value: unknown) => boolean = MutexStamp.is
/** The fast-path state of a Mutex the addon made (null: none); undefined for anything else. */
export const mutexState: (value: unknown) => MutexState | null | undefined = MutexStamp.stateOf
