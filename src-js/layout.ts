// C struct layouts over regions: declare the fields once, get C's sizes, offsets and padding (natural
// alignment, as the C compilers of every platform mapshare ships for lay them out), read and write the
// fields in place, and write the same definition out as a C header for a C peer.
//
// In place means through a DataView over the struct's bytes (`region.view`); where the runtime gives
// no views (Electron, a read-only System V attachment) and on read-only regions, each access copies
// the field's bytes through `region.read`/`region.write` instead. Types are read and written in the machine's byte order, as C
// does. Field types are recognised by identity (a registry of the ones `c` and `struct` made), so a
// copy of one (`{ ...c.i32 }`) is not a field type.
import { coded, invalidArgType, invalidArgValue, outOfRange, unaligned } from './errors.ts'
import type { Region } from './native.ts'
import { integer, region as checkRegion, viewOrNull } from './validate.ts'

/** A field type of a C struct layout (see `c` and `struct`). */
export interface FieldType<V = unknown> {
  readonly size: number
  readonly align: number
  /** The JS value a field of this type reads as (type-level only). */
  readonly __value?: V
}
/** A scalar field type; `c.array` of it reads as typed array `A` (in place where views exist). */
export interface ScalarType<V, A> extends FieldType<V> {
  /** Type-level only: what `c.array` of this type reads as. */
  readonly __array: A
}
type ValueOf<T> = T extends StructLayout<infer F> ? StructValue<F> : T extends FieldType<infer V> ? V : never
/** What a field of type `T` accepts when written: arrays as any array-like, structs as a partial object. */
type InputOf<T> =
  T extends StructLayout<infer F>
    ? StructInput<F>
    : T extends FieldType<infer V>
      ? V extends ArrayLike<infer E>
        ? V extends string
          ? V
          : ArrayLike<E extends StructValue<infer G> ? StructInput<G> : E>
        : V
      : never
/** A struct in a region: one property per field, read and written in place. */
export type StructValue<F extends Record<string, FieldType>> = { -readonly [K in keyof F]: ValueOf<F[K]> }
/** A plain copy of a struct's fields (`layout.read`). */
export type StructPlain<F extends Record<string, FieldType>> = {
  [K in keyof F]: F[K] extends StructLayout<infer G> ? StructPlain<G> : ValueOf<F[K]>
}
/** What `layout.write` accepts: any of the fields, arrays as array-likes, nested structs partly. */
export type StructInput<F extends Record<string, FieldType>> = { [K in keyof F]?: InputOf<F[K]> }

/** A C struct layout made by `struct(name, fields)`. */
export interface StructLayout<
  F extends Record<string, FieldType> = Record<string, FieldType>,
> extends FieldType<StructValue<F>> {
  readonly name: string
  readonly fields: ReadonlyArray<{ readonly name: string; readonly type: FieldType; readonly offset: number }>
  /** C's `offsetof`. */
  offsetOf(field: keyof F & string): number
  /** The struct at `byteOffset` (a multiple of `align`) of `region`, read and written in place. */
  at(region: Region, byteOffset?: number): StructValue<F>
  /** A plain object with a copy of every field. */
  read(region: Region, byteOffset?: number): StructPlain<F>
  /** Writes the fields present in `values` (all checked before any is written). */
  write(region: Region, values: StructInput<F>, byteOffset?: number): void
  /** The C definition, with `_Static_assert`s of its `sizeof` and every `offsetof`. */
  cHeader(): string
}

type Scalar = number | bigint
type TypedArrayClass =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor

interface ScalarInfo {
  readonly kind: 'scalar'
  readonly cName: string
  readonly size: number
  readonly align: number
  readonly Typed: TypedArrayClass
  get(dv: DataView, at: number): Scalar
  set(dv: DataView, at: number, v: unknown, path: string): void
}
interface CharInfo {
  readonly kind: 'char'
  readonly n: number
  readonly size: number
  readonly align: 1
}
interface ArrayInfo {
  readonly kind: 'array'
  readonly of: Info
  readonly n: number
  readonly size: number
  readonly align: number
}
interface FieldInfo {
  readonly name: string
  readonly type: FieldType
  readonly info: Info
  readonly offset: number
}
interface StructInfo {
  readonly kind: 'struct'
  readonly name: string
  readonly size: number
  readonly align: number
  readonly fields: readonly FieldInfo[]
  readonly byName: ReadonlyMap<string, FieldInfo>
  readonly layout: StructLayout
}
type Info = ScalarInfo | CharInfo | ArrayInfo | StructInfo

/** Every genuine field type, with what mapshare knows of it. */
const INFO = new WeakMap<object, Info>()

function register<T extends FieldType>(info: Info, type: T): T {
  INFO.set(type, info)
  return Object.freeze(type)
}

function infoOf(type: unknown, what: string): Info {
  const info = typeof type === 'object' && type !== null ? INFO.get(type) : undefined
  if (info === undefined)
    throw invalidArgType(what, 'a field type (c.i32, c.char(10), c.array(...), or a struct)', type)
  return info
}

const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// C's keywords (C11 and C23) and the macros of <stddef.h> and <stdint.h>, which the generated
// header includes: none can name a struct or a field there.
const C_RESERVED = new Set(
  (
    'auto break case char const continue default do double else enum extern float for goto if inline int ' +
    'long register restrict return short signed sizeof static struct switch typedef union unsigned void ' +
    'volatile while alignas alignof bool constexpr false nullptr static_assert thread_local true typeof ' +
    'typeof_unqual NULL offsetof'
  ).split(' '),
)
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/
const STDINT_MACRO =
  /^(U?INT(_LEAST|_FAST|PTR|MAX)?\d*_(MIN|MAX|C)|SIZE_MAX|PTRDIFF_(MIN|MAX)|WCHAR_(MIN|MAX)|WINT_(MIN|MAX)|SIG_ATOMIC_(MIN|MAX))$/

/** Why `name` cannot name something in C, or null if it can. */
function notCName(name: string): string | null {
  if (!IDENT.test(name)) return 'is not a C identifier'
  if (C_RESERVED.has(name) || STDINT_MACRO.test(name)) return 'is a C keyword or a standard macro'
  if (/^_[A-Z_]/.test(name)) return 'is reserved in C (it starts with _ and a capital, or __)'
  return null
}

/** The DataView accessors of a scalar type, by the name they share (`getInt32`/`setInt32`, ...). */
type Accessor =
  | 'Int8'
  | 'Uint8'
  | 'Int16'
  | 'Uint16'
  | 'Int32'
  | 'Uint32'
  | 'BigInt64'
  | 'BigUint64'
  | 'Float32'
  | 'Float64'

function scalar<V extends Scalar, A>(
  cName: string,
  Typed: TypedArrayClass,
  accessor: Accessor,
  range?: readonly [V, V],
): ScalarType<V, A> {
  const size = Typed.BYTES_PER_ELEMENT
  const big = range !== undefined && typeof range[0] === 'bigint'
  // Captured once: a later change to DataView.prototype changes nothing here.
  const get = DataView.prototype[`get${accessor}`] as (this: DataView, at: number, little?: boolean) => V
  const set = DataView.prototype[`set${accessor}`] as (
    this: DataView,
    at: number,
    v: V,
    little?: boolean,
  ) => void
  const info: ScalarInfo = {
    kind: 'scalar',
    cName,
    size,
    align: size,
    Typed,
    get: (dv, at) => Reflect.apply(get, dv, [at, LITTLE]),
    set: (dv, at, v, path) => {
      if (big ? typeof v !== 'bigint' : typeof v !== 'number')
        throw invalidArgType(path, `${cName} (a ${big ? 'bigint' : 'number'})`, v)
      const value = v as V
      if (range !== undefined && (value < range[0] || value > range[1] || (!big && !Number.isInteger(value))))
        throw outOfRange(path, `an integer in [${range[0]}, ${range[1]}] (${cName})`, value)
      Reflect.apply(set, dv, [at, value, LITTLE])
    },
  }
  return register(info, { size, align: size } as ScalarType<V, A>)
}

/** Field types, named as C names them: fixed-width integers (64-bit ones as bigints), floats, `char(n)` strings, arrays, and any `struct` as a nested field. */
export const c: {
  readonly i8: ScalarType<number, Int8Array>
  readonly u8: ScalarType<number, Uint8Array>
  readonly i16: ScalarType<number, Int16Array>
  readonly u16: ScalarType<number, Uint16Array>
  readonly i32: ScalarType<number, Int32Array>
  readonly u32: ScalarType<number, Uint32Array>
  readonly i64: ScalarType<bigint, BigInt64Array>
  readonly u64: ScalarType<bigint, BigUint64Array>
  readonly f32: ScalarType<number, Float32Array>
  readonly f64: ScalarType<number, Float64Array>
  /** `char name[n]`: a string (UTF-8, up to the first NUL); writing pads with NULs, as `strncpy`. */
  char(n: number): FieldType<string>
  /** `type name[n]`: numbers and bigints as a typed array, strings and structs as arrays. */
  array<T extends FieldType>(
    type: T,
    n: number,
  ): FieldType<T extends ScalarType<unknown, infer A> ? A : ValueOf<T>[]>
} = Object.freeze({
  i8: scalar<number, Int8Array>('int8_t', Int8Array, 'Int8', [-128, 127]),
  u8: scalar<number, Uint8Array>('uint8_t', Uint8Array, 'Uint8', [0, 255]),
  i16: scalar<number, Int16Array>('int16_t', Int16Array, 'Int16', [-32768, 32767]),
  u16: scalar<number, Uint16Array>('uint16_t', Uint16Array, 'Uint16', [0, 65535]),
  i32: scalar<number, Int32Array>('int32_t', Int32Array, 'Int32', [-2147483648, 2147483647]),
  u32: scalar<number, Uint32Array>('uint32_t', Uint32Array, 'Uint32', [0, 4294967295]),
  i64: scalar<bigint, BigInt64Array>('int64_t', BigInt64Array, 'BigInt64', [-(2n ** 63n), 2n ** 63n - 1n]),
  u64: scalar<bigint, BigUint64Array>('uint64_t', BigUint64Array, 'BigUint64', [0n, 2n ** 64n - 1n]),
  f32: scalar<number, Float32Array>('float', Float32Array, 'Float32'),
  f64: scalar<number, Float64Array>('double', Float64Array, 'Float64'),
  char(n: number): FieldType<string> {
    count(n, 'c.char(n)')
    return register({ kind: 'char', n, size: n, align: 1 }, { size: n, align: 1 })
  },
  array<T extends FieldType>(
    type: T,
    n: number,
  ): FieldType<T extends ScalarType<unknown, infer A> ? A : ValueOf<T>[]> {
    const of = infoOf(type, 'c.array(type, n): type')
    count(n, 'c.array(type, n)')
    const size = of.size * n
    if (!Number.isSafeInteger(size))
      throw outOfRange('c.array(type, n): n', `at most ${Math.floor(Number.MAX_SAFE_INTEGER / of.size)}`, n)
    return register({ kind: 'array', of, n, size, align: of.align }, { size, align: of.align })
  },
})

function count(n: unknown, what: string): void {
  integer(n, `${what}: n`, 1)
}

/**
 * A C struct: `fields` in order, each a field type. Sizes, offsets and padding follow C's natural
 * alignment; the struct's alignment is its largest field's.
 */
export function struct<F extends Record<string, FieldType>>(name: string, fields: F): StructLayout<F> {
  if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name)
  const bad = notCName(name)
  if (bad !== null) throw invalidArgValue('name', name, `${bad}: a struct name must be usable in C`)
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields))
    throw invalidArgType('fields', 'an object of field types', fields)
  const list: FieldInfo[] = []
  let offset = 0
  let align = 1
  for (const key of Object.keys(fields)) {
    const why = notCName(key)
    if (why !== null) throw invalidArgValue(`fields.${key}`, key, `${why}: a field name must be usable in C`)
    const type = (fields as Record<string, unknown>)[key]
    const info = infoOf(type, `fields.${key}`)
    offset = Math.ceil(offset / info.align) * info.align
    list.push(Object.freeze({ name: key, type: type as FieldType, info, offset }))
    offset += info.size
    align = Math.max(align, info.align)
  }
  if (list.length === 0) throw invalidArgValue('fields', fields, `needs at least one field (struct ${name})`)
  const size = Math.ceil(offset / align) * align
  if (!Number.isSafeInteger(size)) throw outOfRange(`struct ${name}`, 'smaller', size)
  const byName = new Map(list.map((f) => [f.name, f]))
  const publicFields = Object.freeze(
    list.map((f) => Object.freeze({ name: f.name, type: f.type, offset: f.offset })),
  )
  const layout: StructLayout<F> = {
    name,
    size,
    align,
    fields: publicFields,
    offsetOf(field: string): number {
      const f = typeof field === 'string' ? byName.get(field) : undefined
      if (f === undefined) throw invalidArgValue('field', field, `is not a field of struct ${name}`)
      return f.offset
    },
    at(r: Region, byteOffset = 0): StructValue<F> {
      return access(info, memory(r, byteOffset, info), 0, name) as StructValue<F>
    },
    read(r: Region, byteOffset = 0): StructPlain<F> {
      return plain(info, memory(r, byteOffset, info), 0, name) as StructPlain<F>
    },
    write(r: Region, values: StructInput<F>, byteOffset = 0): void {
      setWhole(memory(r, byteOffset, info), info, 0, values, name)
    },
    cHeader(): string {
      return header(info)
    },
  }
  const info: StructInfo = { kind: 'struct', name, size, align, fields: list, byName, layout }
  return register(info, layout)
}

/** How a struct's bytes are reached: a DataView over them, or copies through the region. */
type Memory =
  | { readonly dv: DataView; readonly base: 0; readonly region: null }
  | { readonly dv: null; readonly base: number; readonly region: Region }

function memory(r: unknown, byteOffset: unknown, s: StructInfo): Memory {
  const region = checkRegion(r)
  const at = integer(byteOffset, 'byteOffset')
  if (at % s.align !== 0)
    throw unaligned(
      `struct ${s.name} needs ${s.align}-byte alignment: byteOffset ${at} is not a multiple of it`,
    )
  if (at + s.size > region.length)
    throw outOfRange(
      'byteOffset',
      `at most ${region.length - s.size} for struct ${s.name} (${s.size} bytes) in a region of ${region.length} bytes`,
      at,
    )
  // A read-only region's views are copy-on-write (writes would stay in this process and cut that page
  // off the file): its fields are read through region.read, which sees the writer, and writes fail
  // in region.write with ERR_MAPSHARE_READ_ONLY.
  const dv = region.readOnly ? null : viewOrNull(region, DataView, at, s.size)
  return dv !== null ? { dv, base: 0, region: null } : { dv: null, base: at, region }
}

/** A field's bytes as a DataView: in place, or a copy (written back by `commit`). */
function bytes(mem: Memory, at: number, size: number): { dv: DataView; at: number } {
  if (mem.dv !== null) return { dv: mem.dv, at }
  const b = mem.region.read(mem.base + at, size)
  return { dv: new DataView(b.buffer, b.byteOffset, size), at: 0 }
}
function commit(mem: Memory, at: number, place: { dv: DataView }): void {
  if (mem.dv === null)
    mem.region.write(new Uint8Array(place.dv.buffer, place.dv.byteOffset, place.dv.byteLength), mem.base + at)
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

function getField(mem: Memory, type: Info, at: number, path: string): unknown {
  switch (type.kind) {
    case 'scalar': {
      const p = bytes(mem, at, type.size)
      return type.get(p.dv, p.at)
    }
    case 'char': {
      const p = bytes(mem, at, type.n)
      const u8 = new Uint8Array(p.dv.buffer, p.dv.byteOffset + p.at, type.n)
      const end = u8.indexOf(0)
      return decoder.decode(end < 0 ? u8 : u8.subarray(0, end))
    }
    case 'array': {
      const of = type.of
      if (of.kind === 'scalar') {
        if (mem.dv !== null && (mem.dv.byteOffset + at) % of.align === 0)
          return new of.Typed(mem.dv.buffer as ArrayBuffer, mem.dv.byteOffset + at, type.n) // in place
        const p = bytes(mem, at, type.size)
        const start = p.dv.byteOffset + p.at
        return new of.Typed((p.dv.buffer as ArrayBuffer).slice(start, start + type.size)) // a copy
      }
      return Array.from({ length: type.n }, (_, i) => getField(mem, of, at + i * of.size, `${path}[${i}]`))
    }
    case 'struct':
      return access(type, mem, at, path)
  }
}

function setField(mem: Memory, type: Info, at: number, value: unknown, path: string): void {
  switch (type.kind) {
    case 'scalar': {
      const p = bytes(mem, at, type.size)
      type.set(p.dv, p.at, value, path)
      commit(mem, at, p)
      return
    }
    case 'char': {
      if (typeof value !== 'string') throw invalidArgType(path, `char[${type.n}] (a string)`, value)
      const encoded = encoder.encode(value)
      if (encoded.length > type.n || encoded.includes(0))
        throw outOfRange(
          path,
          `a string of at most ${type.n} UTF-8 bytes with no NUL (char[${type.n}])`,
          value,
        )
      const p = bytes(mem, at, type.n)
      const u8 = new Uint8Array(p.dv.buffer, p.dv.byteOffset + p.at, type.n)
      u8.fill(0)
      u8.set(encoded)
      commit(mem, at, p)
      return
    }
    case 'array':
    case 'struct':
      setWhole(mem, type, at, value, path)
  }
}

/**
 * Writes an array or struct all at once: its values are encoded into a copy of its current bytes
 * (each value read once, every one checked), then the copy goes in. A bad value writes nothing, and a
 * getter cannot hand over one value to the check and another to the write.
 */
function setWhole(mem: Memory, type: ArrayInfo | StructInfo, at: number, value: unknown, path: string): void {
  const current = bytes(mem, at, type.size)
  const image = new Uint8Array(type.size)
  image.set(new Uint8Array(current.dv.buffer, current.dv.byteOffset + current.at, type.size))
  const scratch: Memory = { dv: new DataView(image.buffer), base: 0, region: null }
  if (type.kind === 'array') {
    if (
      value === null ||
      typeof value !== 'object' ||
      typeof (value as { length?: unknown }).length !== 'number'
    )
      throw invalidArgType(path, `an array of ${type.n}`, value)
    const items = Array.from(value as ArrayLike<unknown>)
    if (items.length !== type.n) throw outOfRange(`${path}.length`, `${type.n}`, items.length)
    items.forEach((v, i) => setField(scratch, type.of, i * type.of.size, v, `${path}[${i}]`))
  } else {
    if (value === null || typeof value !== 'object')
      throw invalidArgType(path, 'an object of field values', value)
    const given = value as Record<string, unknown>
    for (const key of Object.keys(given))
      if (!type.byName.has(key))
        throw invalidArgValue(path, value, `has no field '${key}' (struct ${type.name})`)
    for (const f of type.fields)
      if (Object.hasOwn(given, f.name))
        setField(scratch, f.info, f.offset, given[f.name], `${path}.${f.name}`)
  }
  if (mem.dv !== null) new Uint8Array(mem.dv.buffer, mem.dv.byteOffset + at, type.size).set(image)
  else mem.region.write(image, mem.base + at)
}

/** A plain object with a copy of every field (defined as own data properties, whatever their names). */
function plain(s: StructInfo, mem: Memory, at: number, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of s.fields) {
    const v = copy(f.info, mem, at + f.offset, `${path}.${f.name}`)
    Object.defineProperty(out, f.name, { value: v, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** A field's value as a copy: nothing of it reads or writes the region later. */
function copy(type: Info, mem: Memory, at: number, path: string): unknown {
  if (type.kind === 'struct') return plain(type, mem, at, path)
  if (type.kind === 'array' && type.of.kind !== 'scalar') {
    const of = type.of
    return Array.from({ length: type.n }, (_, i) => copy(of, mem, at + i * of.size, `${path}[${i}]`))
  }
  const v = getField(mem, type, at, path)
  return ArrayBuffer.isView(v) ? (v as Uint8Array).slice() : v
}

const inspectKey = Symbol.for('nodejs.util.inspect.custom')

/** A struct in memory: one getter/setter per field, own properties of an object with no prototype
 * members to collide with (a field may be called `constructor` or `toString`). */
function access(s: StructInfo, mem: Memory, at: number, path: string): object {
  const o = Object.create(null) as object
  for (const f of s.fields) {
    const where = at + f.offset
    const fieldPath = `${path}.${f.name}`
    Object.defineProperty(o, f.name, {
      enumerable: true,
      get: () => getField(mem, f.info, where, fieldPath),
      set: (v: unknown) => setField(mem, f.info, where, v, fieldPath),
    })
  }
  Object.defineProperty(o, inspectKey, {
    value: (_depth: number, options: unknown, inspect?: (v: unknown, o: unknown) => string) => {
      const values = plain(s, mem, at, path)
      return `struct ${s.name} ${inspect ? inspect(values, options) : JSON.stringify(values)}`
    },
  })
  return Object.preventExtensions(o)
}

function cDecl(type: Info, name: string): string {
  switch (type.kind) {
    case 'scalar':
      return `${type.cName} ${name}`
    case 'char':
      return `char ${name}[${type.n}]`
    case 'array':
      return cDecl(type.of, `${name}[${type.n}]`)
    case 'struct':
      return `struct ${type.name} ${name}`
  }
}

function header(root: StructInfo): string {
  const out: string[] = []
  const seen = new Map<string, StructInfo>()
  const visit = (s: StructInfo): void => {
    const known = seen.get(s.name)
    if (known !== undefined) {
      if (known !== s)
        throw coded(
          TypeError,
          'ERR_INVALID_ARG_VALUE',
          `two different structs are named ${s.name}: C needs one name per struct`,
        )
      return
    }
    seen.set(s.name, s)
    for (const f of s.fields) {
      let t = f.info
      while (t.kind === 'array') t = t.of
      if (t.kind === 'struct') visit(t)
    }
    const lines = s.fields.map((f) => `  ${cDecl(f.info, f.name)}; /* offset ${f.offset} */`)
    out.push(
      `struct ${s.name} {\n${lines.join('\n')}\n};`,
      `_Static_assert(sizeof(struct ${s.name}) == ${s.size}, "mapshare layout: sizeof(struct ${s.name})");`,
      ...s.fields.map(
        (f) =>
          `_Static_assert(offsetof(struct ${s.name}, ${f.name}) == ${f.offset}, "mapshare layout: offsetof(struct ${s.name}, ${f.name})");`,
      ),
      '',
    )
  }
  visit(root)
  const guard = `MAPSHARE_${root.name.toUpperCase()}_H`
  return `/* struct ${root.name}: generated by mapshare's struct() (${root.size} bytes, aligned to ${root.align}) */\n#ifndef ${guard}\n#define ${guard}\n#include <stddef.h>\n#include <stdint.h>\n\n${out.join('\n')}#endif\n`
}
