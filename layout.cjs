// C struct layouts over regions: declare the fields once, get C's sizes, offsets and padding (natural
// alignment, as the C compilers of every platform mapshare ships for lay them out), read and write the
// fields in place, and write the same definition out as a C header for a C peer.
//
// In place means through a DataView over the struct's bytes (`region.view`); where the runtime gives
// no views (Electron, a read-only System V attachment), each access copies the field's bytes through
// `region.read`/`region.write` instead. Types are read and written in the machine's byte order, as C
// does.
'use strict'

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function fail(Ctor, code, message) {
  const e = new Ctor(message)
  e.code = code
  return e
}
const typeError = (message) => fail(TypeError, 'ERR_INVALID_ARG_TYPE', message)
const valueError = (message) => fail(TypeError, 'ERR_INVALID_ARG_VALUE', message)
const rangeError = (message) => fail(RangeError, 'ERR_OUT_OF_RANGE', message)

const kType = Symbol('mapshare.layoutType')

/** A scalar: C type name, size, DataView accessors, value range. */
function scalar(cName, size, get, set, min, max) {
  const big = typeof min === 'bigint'
  return Object.freeze({
    [kType]: 'scalar',
    cName,
    size,
    align: size,
    get: (dv, at) => dv[get](at, LITTLE),
    set: (dv, at, v, path) => {
      if (big ? typeof v !== 'bigint' : typeof v !== 'number')
        throw typeError(`${path} is ${cName}: expected a ${big ? 'bigint' : 'number'}, got ${describe(v)}`)
      if (min !== undefined && (v < min || v > max || (!big && !Number.isInteger(v))))
        throw rangeError(`${path} is ${cName}: ${String(v)} is not an integer in [${min}, ${max}]`)
      dv[set](at, v, LITTLE)
    },
  })
}

function describe(v) {
  if (v === null) return 'null'
  if (typeof v === 'string') return `a string ('${v.length > 20 ? `${v.slice(0, 20)}...` : v}')`
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'Object'}`
  return `type ${typeof v} (${String(v)})`
}

/** The field types, as C names them. 64-bit integers are bigints. */
const c = Object.freeze({
  i8: scalar('int8_t', 1, 'getInt8', 'setInt8', -128, 127),
  u8: scalar('uint8_t', 1, 'getUint8', 'setUint8', 0, 255),
  i16: scalar('int16_t', 2, 'getInt16', 'setInt16', -32768, 32767),
  u16: scalar('uint16_t', 2, 'getUint16', 'setUint16', 0, 65535),
  i32: scalar('int32_t', 4, 'getInt32', 'setInt32', -2147483648, 2147483647),
  u32: scalar('uint32_t', 4, 'getUint32', 'setUint32', 0, 4294967295),
  i64: scalar('int64_t', 8, 'getBigInt64', 'setBigInt64', -(2n ** 63n), 2n ** 63n - 1n),
  u64: scalar('uint64_t', 8, 'getBigUint64', 'setBigUint64', 0n, 2n ** 64n - 1n),
  f32: scalar('float', 4, 'getFloat32', 'setFloat32'),
  f64: scalar('double', 8, 'getFloat64', 'setFloat64'),
  /** `char name[n]`: a string (UTF-8, up to the first NUL); writing pads with NULs, as `strncpy`. */
  char(n) {
    count(n, 'c.char(n)')
    return Object.freeze({ [kType]: 'char', cName: 'char', n, size: n, align: 1 })
  },
  /** `type name[n]`: numbers and bigints as a typed array, structs and strings as arrays. */
  array(type, n) {
    check(type, 'c.array(type, n): type')
    count(n, 'c.array(type, n)')
    const size = type.size * n
    if (!Number.isSafeInteger(size))
      throw rangeError(`c.array: ${n} elements of ${type.size} bytes is too large`)
    return Object.freeze({ [kType]: 'array', of: type, n, size, align: type.align })
  },
})

const TYPED = {
  int8_t: Int8Array,
  uint8_t: Uint8Array,
  int16_t: Int16Array,
  uint16_t: Uint16Array,
  int32_t: Int32Array,
  uint32_t: Uint32Array,
  int64_t: BigInt64Array,
  uint64_t: BigUint64Array,
  float: Float32Array,
  double: Float64Array,
}

function count(n, what) {
  if (typeof n !== 'number') throw typeError(`${what}: n must be a number, got ${describe(n)}`)
  if (!Number.isSafeInteger(n) || n < 1) throw rangeError(`${what}: n must be an integer >= 1, got ${n}`)
}

function check(type, what) {
  if (type === null || typeof type !== 'object' || type[kType] === undefined)
    throw typeError(
      `${what} must be a field type (c.i32, c.char(10), c.array(...), or a struct), got ${describe(type)}`,
    )
}

/**
 * A C struct: `fields` in order, each a field type. Sizes, offsets and padding follow C's natural
 * alignment; the struct's alignment is its largest field's.
 */
function struct(name, fields) {
  if (typeof name !== 'string' || !IDENT.test(name))
    throw valueError(`struct(name, fields): name must be a C identifier, got ${describe(name)}`)
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields))
    throw typeError(`struct ${name}: fields must be an object of field types, got ${describe(fields)}`)
  const list = []
  let offset = 0
  let align = 1
  for (const key of Object.keys(fields)) {
    if (!IDENT.test(key)) throw valueError(`struct ${name}: '${key}' is not a C identifier`)
    const type = fields[key]
    check(type, `struct ${name}: field '${key}'`)
    offset = Math.ceil(offset / type.align) * type.align
    list.push(Object.freeze({ name: key, type, offset }))
    offset += type.size
    align = Math.max(align, type.align)
  }
  if (list.length === 0) throw valueError(`struct ${name}: a C struct needs at least one field`)
  const size = Math.ceil(offset / align) * align
  if (!Number.isSafeInteger(size)) throw rangeError(`struct ${name} is too large`)
  const byName = new Map(list.map((f) => [f.name, f]))
  const layout = {
    [kType]: 'struct',
    name,
    size,
    align,
    fields: Object.freeze(list),
    /** The byte offset of a field (C's `offsetof`). */
    offsetOf(field) {
      const f = byName.get(field)
      if (f === undefined) throw valueError(`struct ${name} has no field '${String(field)}'`)
      return f.offset
    },
    /** The struct at `byteOffset` of `region`, read and written in place. */
    at(region, byteOffset = 0) {
      return new Access(layout, memory(region, byteOffset, layout), 0, name)
    },
    /** A plain object with a copy of every field. */
    read(region, byteOffset = 0) {
      return plain(this.at(region, byteOffset))
    },
    /** Writes the fields present in `values`. */
    write(region, values, byteOffset = 0) {
      setWhole(memory(region, byteOffset, layout), layout, 0, values, name)
    },
    /** The C definition (with the structs it contains, and checks of sizeof/offsetof). */
    cHeader() {
      return header(layout)
    },
  }
  return Object.freeze(layout)
}

/** How a struct's bytes are reached: a DataView over them, or copies through the region. */
function memory(region, byteOffset, layout) {
  if (region === null || typeof region !== 'object' || typeof region.read !== 'function')
    throw typeError(
      `struct ${layout.name}: expected a region (MmapFile, SharedMemory, ShmSegment), got ${describe(region)}`,
    )
  if (typeof byteOffset !== 'number' || !Number.isSafeInteger(byteOffset) || byteOffset < 0)
    throw rangeError(`struct ${layout.name}: byteOffset must be an integer >= 0, got ${String(byteOffset)}`)
  if (byteOffset % layout.align !== 0)
    throw fail(
      RangeError,
      'ERR_MAPSHARE_UNALIGNED',
      `struct ${layout.name} needs ${layout.align}-byte alignment: byteOffset ${byteOffset} is not a multiple of it`,
    )
  if (byteOffset + layout.size > region.length)
    throw rangeError(
      `struct ${layout.name} (${layout.size} bytes) at byteOffset ${byteOffset} does not fit in the region (${region.length} bytes)`,
    )
  try {
    const dv = region.view(DataView, byteOffset, layout.size)
    return { dv, base: 0, region: null }
  } catch (e) {
    if (e.code !== 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' && e.code !== 'ERR_MAPSHARE_NO_SAFE_VIEW')
      throw e
    return { dv: null, base: byteOffset, region }
  }
}

/** Reads a field's bytes as a DataView (in place, or a copy), and writes them back in copy mode. */
function bytes(mem, at, size) {
  if (mem.dv !== null) return { dv: mem.dv, at }
  const b = mem.region.read(mem.base + at, size)
  return { dv: new DataView(b.buffer, b.byteOffset, size), at: 0 }
}
function commit(mem, at, place) {
  if (mem.dv === null)
    mem.region.write(new Uint8Array(place.dv.buffer, place.dv.byteOffset, place.dv.byteLength), mem.base + at)
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

function getField(mem, type, at, path) {
  switch (type[kType]) {
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
      const Typed = type.of[kType] === 'scalar' ? TYPED[type.of.cName] : undefined
      if (Typed !== undefined && mem.dv !== null && (mem.dv.byteOffset + at) % type.of.align === 0)
        return new Typed(mem.dv.buffer, mem.dv.byteOffset + at, type.n) // in place
      if (Typed !== undefined) {
        const p = bytes(mem, at, type.size)
        return new Typed(p.dv.buffer.slice(p.dv.byteOffset + p.at, p.dv.byteOffset + p.at + type.size)) // a copy
      }
      return Array.from({ length: type.n }, (_, i) =>
        getField(mem, type.of, at + i * type.of.size, `${path}[${i}]`),
      )
    }
    case 'struct':
      return new Access(type, mem, at, path)
  }
}

function setField(mem, type, at, value, path) {
  switch (type[kType]) {
    case 'scalar': {
      const p = bytes(mem, at, type.size)
      type.set(p.dv, p.at, value, path)
      commit(mem, at, p)
      return
    }
    case 'char': {
      if (typeof value !== 'string')
        throw typeError(`${path} is char[${type.n}]: expected a string, got ${describe(value)}`)
      const encoded = encoder.encode(value)
      if (encoded.length > type.n || encoded.includes(0))
        throw rangeError(
          `${path} is char[${type.n}]: '${value}' takes ${encoded.length} bytes${encoded.includes(0) ? ' and has a NUL' : ''}`,
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
function setWhole(mem, type, at, value, path) {
  const current = bytes(mem, at, type.size)
  const image = new Uint8Array(type.size)
  image.set(new Uint8Array(current.dv.buffer, current.dv.byteOffset + current.at, type.size))
  const scratch = { dv: new DataView(image.buffer), base: 0, region: null }
  if (type[kType] === 'array') {
    if (value === null || typeof value !== 'object' || typeof value.length !== 'number')
      throw typeError(`${path} is an array of ${type.n}: expected an array, got ${describe(value)}`)
    if (value.length !== type.n) throw rangeError(`${path} holds ${type.n} elements, got ${value.length}`)
    Array.from(value).forEach((v, i) => setField(scratch, type.of, i * type.of.size, v, `${path}[${i}]`))
  } else {
    if (value === null || typeof value !== 'object')
      throw typeError(`${path}: expected an object of field values, got ${describe(value)}`)
    for (const key of Object.keys(value))
      if (!type.fields.some((f) => f.name === key)) throw valueError(`${path} has no field '${key}'`)
    for (const f of type.fields)
      if (f.name in value) setField(scratch, f.type, f.offset, value[f.name], `${path}.${f.name}`)
  }
  if (mem.dv !== null) new Uint8Array(mem.dv.buffer, mem.dv.byteOffset + at, type.size).set(image)
  else mem.region.write(image, mem.base + at)
}

function plain(access) {
  const out = {}
  for (const f of access[kLayout].fields) {
    const v = access[f.name]
    out[f.name] =
      v instanceof Access
        ? plain(v)
        : Array.isArray(v)
          ? v.map((x) => (x instanceof Access ? plain(x) : x))
          : ArrayBuffer.isView(v)
            ? v.slice()
            : v
  }
  return out
}

const kLayout = Symbol('mapshare.layout')

/** A struct in memory: one getter/setter per field. */
class Access {
  constructor(layout, mem, at, path) {
    Object.defineProperty(this, kLayout, { value: layout })
    for (const f of layout.fields) {
      const where = at + f.offset
      const fieldPath = `${path}.${f.name}`
      Object.defineProperty(this, f.name, {
        enumerable: true,
        get: () => getField(mem, f.type, where, fieldPath),
        set: (v) => setField(mem, f.type, where, v, fieldPath),
      })
    }
    Object.preventExtensions(this)
  }
}

function cDecl(type, name) {
  switch (type[kType]) {
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

function header(root) {
  const out = []
  const seen = new Map()
  const visit = (s) => {
    if (seen.has(s.name)) {
      if (seen.get(s.name) !== s) throw valueError(`two different structs are named ${s.name}`)
      return
    }
    seen.set(s.name, s)
    for (const f of s.fields) {
      let t = f.type
      while (t[kType] === 'array') t = t.of
      if (t[kType] === 'struct') visit(t)
    }
    const lines = s.fields.map((f) => `  ${cDecl(f.type, f.name)}; /* offset ${f.offset} */`)
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

module.exports = { struct, c }
