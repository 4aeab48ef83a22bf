// AbortSignals, taken so that no user code decides whether a promise settles: only a genuine
// AbortSignal is accepted (its own intrinsic `aborted` getter must accept it: a Proxy, a look-alike
// or an object whose members throw is ERR_INVALID_ARG_TYPE), it is read only through the intrinsics
// captured at load (an own `reason` getter or `removeEventListener` that throws is never called), and
// the addon is given a signal of mapshare's own that follows it, which no user code can reach.
import { types } from 'node:util'
import { invalidArgType } from './errors.ts'
import { checkKeys } from './keys.ts'

const intrinsic = <T>(proto: object, key: string, kind: 'get' | 'value'): T => {
  const d = Object.getOwnPropertyDescriptor(proto, key)
  const fn = kind === 'get' ? d?.get : d?.value
  if (typeof fn !== 'function') throw new Error(`this runtime has no ${key} on ${String(proto)}`)
  return fn as T
}
const abortedGetter = intrinsic<(this: AbortSignal) => boolean>(AbortSignal.prototype, 'aborted', 'get')
const reasonGetter = intrinsic<(this: AbortSignal) => unknown>(AbortSignal.prototype, 'reason', 'get')
const addListener = intrinsic<EventTarget['addEventListener']>(
  EventTarget.prototype,
  'addEventListener',
  'value',
)
const removeListener = intrinsic<EventTarget['removeEventListener']>(
  EventTarget.prototype,
  'removeEventListener',
  'value',
)
const { apply } = Reflect

/** Whether `signal` (a genuine AbortSignal) has aborted. */
export const isAborted = (signal: AbortSignal): boolean => apply(abortedGetter, signal, [])
/** Why `signal` (a genuine AbortSignal) aborted. */
export const reasonOf = (signal: AbortSignal): unknown => apply(reasonGetter, signal, [])

/**
 * `value` as a genuine AbortSignal (undefined: none), or ERR_INVALID_ARG_TYPE. Genuine: not a Proxy
 * (the intrinsic getters look up internal symbols, which a Proxy forwards to its traps), made by the
 * runtime as an AbortSignal (its prototype is AbortSignal.prototype, so nothing it inherits runs
 * code), and accepted by the intrinsic `aborted` getter's own check.
 */
export function abortSignal(value: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (value === undefined) return undefined
  if (
    typeof value === 'object' &&
    value !== null &&
    !types.isProxy(value) &&
    Reflect.getPrototypeOf(value) === AbortSignal.prototype
  ) {
    try {
      apply(abortedGetter, value, [])
      return value as AbortSignal
    } catch {
      // not a signal after all: refused below
    }
  }
  throw invalidArgType(name, 'an instance of AbortSignal', value)
}

/** A signal of mapshare's own that aborts when `signal` does, with its reason; `unlink()` stops that. */
export interface Follower {
  readonly signal: AbortSignal
  unlink(): void
}

/** A signal that follows `signal` (a genuine AbortSignal), for the addon. */
export function follow(signal: AbortSignal): Follower {
  const own = new AbortController()
  if (isAborted(signal)) {
    own.abort(reasonOf(signal))
    return { signal: own.signal, unlink: () => {} }
  }
  const onAbort = (): void => own.abort(reasonOf(signal))
  apply(addListener, signal, ['abort', onAbort, { once: true }])
  return { signal: own.signal, unlink: () => apply(removeListener, signal, ['abort', onAbort]) }
}

/** What the options of a promise wait hold, each read once: a timeout and a genuine signal. */
export interface AsyncWaitOptions {
  readonly timeout: unknown
  readonly signal: AbortSignal | undefined
}

/** Reads `{ timeout, signal }` (or a bare timeout, as `wait` takes it) once each. */
export function asyncWaitOptions(options: unknown): AsyncWaitOptions {
  if (options === undefined) return { timeout: undefined, signal: undefined }
  if (typeof options === 'number') return { timeout: options, signal: undefined }
  if (options === null || typeof options !== 'object')
    throw invalidArgType('options', 'of type object or a timeout in milliseconds', options)
  checkKeys(options, ['timeout', 'signal'], 'options')
  const o = options as { timeout?: unknown; signal?: unknown }
  const timeout = o.timeout
  return { timeout, signal: abortSignal(o.signal) }
}

/**
 * Runs `start(options)` for the addon with `{ timeout, signal }` of mapshare's own (a plain object,
 * a signal that follows the caller's), and unlinks the signal once the promise settles.
 */
export function withOwnSignal<T>(
  given: AsyncWaitOptions,
  start: (options: { timeout?: unknown; signal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  const options: { timeout?: unknown; signal?: AbortSignal } = {}
  if (given.timeout !== undefined) options.timeout = given.timeout
  if (given.signal === undefined) return start(options)
  const follower = follow(given.signal)
  options.signal = follower.signal
  let p: Promise<T>
  try {
    p = start(options)
  } catch (e) {
    follower.unlink()
    throw e
  }
  p.then(follower.unlink, follower.unlink)
  return p
}
