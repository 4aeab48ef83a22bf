// Node-shaped errors for every JS layer: a `code`, the class Node gives that code, and Node's
// "Received ..." wording. Describing a value never runs user code: no getter, no `toString`, no
// Proxy trap is touched (a Proxy is named as one).
import { types } from 'node:util'

/** The `code` of every error mapshare itself defines (OS errors carry their errno name, e.g. `'ENOENT'`). */
export type MapshareErrorCode =
  | 'ERR_MAPSHARE_BINARY_LOAD_FAILED'
  | 'ERR_MAPSHARE_BINARY_VERSION'
  | 'ERR_MAPSHARE_BUFFER_TOO_LARGE'
  | 'ERR_MAPSHARE_CHANNEL_CORRUPT'
  | 'ERR_MAPSHARE_CHANNEL_ENDED'
  | 'ERR_MAPSHARE_CHANNEL_STATE'
  | 'ERR_MAPSHARE_CLOSED'
  | 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE'
  | 'ERR_MAPSHARE_INTERNAL'
  | 'ERR_MAPSHARE_NOT_OWNER'
  | 'ERR_MAPSHARE_NOT_RESIZABLE'
  | 'ERR_MAPSHARE_NO_BINARY'
  | 'ERR_MAPSHARE_NO_NAME'
  | 'ERR_MAPSHARE_NO_SAFE_VIEW'
  | 'ERR_MAPSHARE_READ_ONLY'
  | 'ERR_MAPSHARE_UNALIGNED'
  | 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM'
  | 'ERR_ILLEGAL_CONSTRUCTOR'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_INVALID_THIS'
  | 'ERR_OUT_OF_RANGE'
  | 'ABORT_ERR'

/** An error with the `code` that says what went wrong (the message may change, the code does not). */
export interface CodedError extends Error {
  code: MapshareErrorCode
}

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError

/** An error of class `Class` with `code`; `cause` where one error led to this one. */
export function coded(
  Class: ErrorClass,
  code: MapshareErrorCode,
  message: string,
  cause?: unknown,
): CodedError {
  const e = (cause === undefined ? new Class(message) : new Class(message, { cause })) as CodedError
  e.code = code
  return e
}

const { getOwnPropertyDescriptor, getPrototypeOf } = Reflect

/** A data property's value, without running a getter or a Proxy trap; undefined otherwise. */
function dataValue(o: object, key: string): unknown {
  if (types.isProxy(o)) return undefined
  const d = getOwnPropertyDescriptor(o, key)
  return d !== undefined && 'value' in d ? d.value : undefined
}

/** The name of the constructor an object was made by, found without running user code. */
function constructorName(o: object): string | undefined {
  let p: object | null = o
  for (let depth = 0; p !== null && depth < 64; depth++) {
    if (types.isProxy(p)) return undefined
    const ctor = dataValue(p, 'constructor')
    if (typeof ctor === 'function') {
      const name = dataValue(ctor, 'name')
      return typeof name === 'string' && name !== '' ? name : undefined
    }
    p = getPrototypeOf(p) as object | null
  }
  return undefined
}

/** What Node's errors say after "Received": `type number (5)`, `an instance of Foo`, `null`, ... */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined'
    case 'bigint':
      return `type bigint (${value}n)`
    case 'number':
      return `type number (${Object.is(value, -0) ? '-0' : value})`
    case 'boolean':
      return `type boolean (${value})`
    case 'symbol':
      return `type symbol (${String(value)})` // String() of a symbol calls no user code
    case 'string': {
      const s = value.length > 28 ? `${value.slice(0, 25)}...` : value
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`
    }
    case 'function': {
      if (types.isProxy(value)) return 'a Proxy'
      const name = dataValue(value, 'name')
      return typeof name === 'string' && name !== '' ? `function ${name}` : 'function <anonymous>'
    }
    default: {
      if (value === null) return 'null'
      if (types.isProxy(value)) return 'a Proxy'
      const name = constructorName(value as object)
      return name === undefined ? 'an object with no constructor' : `an instance of ${name}`
    }
  }
}

/** `ERR_INVALID_ARG_TYPE`: `The "name" argument must be <expected>. Received ...` */
export function invalidArgType(name: string, expected: string, value: unknown): CodedError {
  const what = name.includes('.') ? `"${name}" property` : `"${name}" argument`
  return coded(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The ${what} must be ${expected}. Received ${describe(value)}`,
  )
}

/** `ERR_INVALID_ARG_VALUE`: `The argument 'name' <reason>. Received ...` */
export function invalidArgValue(name: string, value: unknown, reason: string): CodedError {
  const what = name.includes('.') ? 'property' : 'argument'
  return coded(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The ${what} '${name}' ${reason}. Received ${describe(value)}`,
  )
}

/** `ERR_OUT_OF_RANGE`: `The value of "name" is out of range. It must be <range>. Received ...` */
export function outOfRange(name: string, range: string, value: unknown): CodedError {
  const received =
    typeof value === 'number' || typeof value === 'bigint'
      ? String(value) + (typeof value === 'bigint' ? 'n' : '')
      : describe(value)
  return coded(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${received}`,
  )
}

/** `ERR_INVALID_THIS`, as Node throws for its own classes' methods on the wrong receiver. */
export function invalidThis(className: string): CodedError {
  return coded(TypeError, 'ERR_INVALID_THIS', `Value of "this" must be of type ${className}`)
}

/** `ERR_MAPSHARE_UNALIGNED`: an offset that is not a multiple of what the access needs. */
export function unaligned(message: string): CodedError {
  return coded(RangeError, 'ERR_MAPSHARE_UNALIGNED', message)
}

/** The `code` of a thrown value, read without running user code (undefined if it has none). */
export function codeOf(e: unknown): unknown {
  return typeof e === 'object' && e !== null ? dataValue(e, 'code') : undefined
}
