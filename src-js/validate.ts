// Argument checks shared by the JS layers: each reads a value once, checks it as a primitive or an
// own field, and fails with Node's codes and wording (errors.ts). None runs user code to describe a
// bad value; a brand check cannot be passed by a Proxy or a look-alike (brand.ts).
import { codeOf, invalidArgType, outOfRange } from './errors.ts'
import { checkKeys } from './keys.ts'
import type { Region } from './native.ts'
import { isRegion } from './regions.ts'

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze(Object.create(null) as Record<string, unknown>)

/**
 * An options argument: undefined is no options; anything but an object is ERR_INVALID_ARG_TYPE, and
 * an own key that is not one of `known` is ERR_INVALID_ARG_VALUE naming it (and the key that was
 * meant, where one is close): a misspelt option is never dropped silently.
 */
export function optionsObject(
  value: unknown,
  known: readonly string[],
  name = 'options',
): Readonly<Record<string, unknown>> {
  if (value === undefined) return EMPTY
  if (value === null || typeof value !== 'object') throw invalidArgType(name, 'of type object', value)
  checkKeys(value, known, name)
  return value as Record<string, unknown>
}

/** An integer in [min, max] (Number.isSafeInteger bounds by default). */
export function integer(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!Number.isInteger(value) || value < min || value > max)
    throw outOfRange(
      name,
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`,
      value,
    )
  return value
}

/** A timeout in milliseconds: undefined (none) or a number >= 0. */
export function timeout(value: unknown, name = 'options.timeout'): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (Number.isNaN(value) || value < 0) throw outOfRange(name, '>= 0 (milliseconds)', value)
  return value
}

/** `value` as a region, or ERR_INVALID_ARG_TYPE. */
export function region(value: unknown, name = 'region'): Region {
  if (!isRegion(value)) throw invalidArgType(name, 'a MmapFile, SharedMemory or ShmSegment', value)
  return value
}

type ViewConstructor = typeof DataView | typeof Uint8Array

/**
 * `region.view(Type, byteOffset, length)`, or null where the region gives no views (runtimes that
 * forbid external buffers, a read-only System V attachment): the caller then copies through
 * `region.read`/`region.write`.
 */
export function viewOrNull<T extends ViewConstructor>(
  r: Region,
  Type: T,
  byteOffset: number,
  length: number,
): InstanceType<T> | null {
  try {
    return r.view(Type, byteOffset, length) as InstanceType<T>
  } catch (e) {
    const code = codeOf(e)
    if (code === 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' || code === 'ERR_MAPSHARE_NO_SAFE_VIEW')
      return null
    throw e
  }
}
