// Receiver checks and argument errors in the JS layers: only objects the addon made pass as regions
// or mutexes (a Proxy, Object.create(Class.prototype), another class's object or a look-alike gets
// ERR_INVALID_THIS or ERR_INVALID_ARG_TYPE), describing a bad value runs no user code, and field types
// are known by identity.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { Channel, MmapFile, Mutex, SharedMemory, ShmSegment, c, struct } from '../src-js/index.ts'
import { errorCode } from './helpers/errors.ts'
import { tmpDir } from './helpers/tmp.ts'

const classes = [MmapFile, SharedMemory, ShmSegment] as const

/** A Proxy whose every trap throws: reading anything of it would run user code. */
function trap(): { proxy: object; touched: () => string[] } {
  const touched: string[] = []
  const handler = new Proxy(
    {},
    {
      get:
        (_t, name) =>
        (..._args: unknown[]) => {
          touched.push(String(name))
          throw new Error(`trap ${String(name)} ran`)
        },
    },
  )
  return { proxy: new Proxy({}, handler), touched: () => touched }
}

/** Every method and getter on a prototype, called on `receiver`: the error codes. */
function callAll(proto: object, receiver: unknown): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>()
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor' || key === Symbol.for('nodejs.util.inspect.custom')) continue
    const d = Object.getOwnPropertyDescriptor(proto, key)!
    const name = String(key)
    if (typeof d.value === 'function')
      out.set(
        name,
        errorCode(() => Reflect.apply(d.value, receiver, [0, 0])),
      )
    else if (d.get)
      out.set(
        name,
        errorCode(() => Reflect.apply(d.get!, receiver, [])),
      )
  }
  return out
}

test('the private methods are not on the prototypes', (t) => {
  for (const Class of classes)
    for (const name of ['_fastPath', '_handle', '_finishResize'])
      t.false(name in Class.prototype, `${Class.name}.prototype.${name}`)
})

test('Object.create(Class.prototype), a Proxy and another class are refused by every method and getter', (t) => {
  const real = {
    MmapFile: MmapFile.anonymous(4096, { shared: true }),
    SharedMemory: SharedMemory.anonymous(4096),
    ShmSegment: ShmSegment.create('private', 4096),
  }
  real.ShmSegment.remove() // gone when detached: the test leaves no segment behind
  for (const Class of classes) {
    const own = real[Class.name as keyof typeof real]
    for (let i = 0; i < 20; i++) own.load(0) // warm: the fast path is set up for the real one
    const other = Class === MmapFile ? real.SharedMemory : real.MmapFile
    const fakes: [string, unknown][] = [
      ['Object.create', Object.create(Class.prototype)],
      ['Proxy', new Proxy(own, {})],
      ['another class', other],
      ['a plain object', {}],
      ['undefined', undefined],
    ]
    for (const [what, fake] of fakes) {
      const codes = callAll(Class.prototype, fake)
      t.true(codes.size > 30, `${Class.name}: ${codes.size} members`)
      for (const [name, code] of codes) t.is(code, 'ERR_INVALID_THIS', `${Class.name}.${name} on ${what}`)
    }
    t.is(own.load(0), 0, 'the real region still works')
  }
  for (const r of Object.values(real)) r.close()
})

test('a Mutex is recognised only if a region made it', (t) => {
  const r = MmapFile.anonymous(4096, { shared: true })
  const m = r.mutex(0)
  const fakes: unknown[] = [Object.create(Mutex.prototype), new Proxy(m, {}), r, {}]
  for (const fake of fakes) {
    const codes = callAll(Mutex.prototype, fake)
    t.true(codes.size >= 4)
    for (const [name, code] of codes) t.is(code, 'ERR_INVALID_THIS', `Mutex.${name}`)
  }
  t.deepEqual(m.lock(), { ownerDied: false })
  m.unlock()
  r.close()
})

test('a region made non-extensible before its first call works, through the native calls', (t) => {
  const r = Object.freeze(MmapFile.anonymous(4096, { shared: true }))
  for (let i = 0; i < 20; i++) r.add(0, 1)
  t.is(r.load(0), 20)
  t.is(r.mutex(8).tryLock()?.ownerDied, false)
  r.close()
  t.is(
    errorCode(() => r.load(0)),
    'ERR_MAPSHARE_CLOSED',
  )
})

test('layouts and channels take only real regions, and describe a bad one without running its code', (t) => {
  const Point = struct('point', { x: c.i32 })
  const { proxy, touched } = trap()
  const real = MmapFile.anonymous(8192, { shared: true })
  const lookAlike = {
    load: () => 0,
    read: () => Buffer.alloc(4),
    length: 8192,
    view: () => new DataView(new ArrayBuffer(8)),
  }
  for (const bad of [proxy, new Proxy(real, {}), lookAlike, Object.create(MmapFile.prototype), null, 5]) {
    t.is(
      errorCode(() => Point.at(bad as never)),
      'ERR_INVALID_ARG_TYPE',
    )
    t.is(
      errorCode(() => Point.write(bad as never, { x: 1 })),
      'ERR_INVALID_ARG_TYPE',
    )
    t.is(
      errorCode(() => Channel.create(bad as never)),
      'ERR_INVALID_ARG_TYPE',
    )
    t.is(
      errorCode(() => Channel.open(bad as never)),
      'ERR_INVALID_ARG_TYPE',
    )
  }
  t.deepEqual(touched(), [], 'no trap of the Proxy ran')
  // Messages say what the value was, Node's way.
  const e = (() => {
    try {
      Point.at(Object.create(null) as never)
    } catch (err) {
      return err as Error
    }
  })()
  t.regex(e!.message, /Received an object with no constructor/)
  real.close()
})

test('field types are known by identity: copies and look-alikes are refused; so are names C cannot take', (t) => {
  const { proxy, touched } = trap()
  for (const bad of [{ ...c.i32 }, { size: 4, align: 4 }, Object.create(c.i32), proxy, 'i32'])
    t.is(
      errorCode(() => struct('s', { a: bad as never })),
      'ERR_INVALID_ARG_TYPE',
    )
  t.is(
    errorCode(() => c.array({ ...c.u8 } as never, 2)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.deepEqual(touched(), [])
  for (const name of ['int', 'struct', 'NULL', 'INT32_MAX', '_Bool', '__x', 'a-b', ''])
    t.is(
      errorCode(() => struct('s', { [name]: c.i32 })),
      'ERR_INVALID_ARG_VALUE',
      name,
    )
  for (const name of ['union', 'offsetof', 'SIZE_MAX'])
    t.is(
      errorCode(() => struct(name, { a: c.i32 })),
      'ERR_INVALID_ARG_VALUE',
      name,
    )
})

test('fields named like Object.prototype members work, and the C header with them compiles', (t) => {
  // __proto__ is reserved in C (two underscores): refused with a code, like every such name.
  t.is(
    errorCode(() => struct('odd', { ['__proto__']: c.u16 })),
    'ERR_INVALID_ARG_VALUE',
  )
  const S = struct('odd', { constructor: c.u8, toString: c.i32, valueOf: c.u16, hasOwnProperty: c.char(4) })
  t.deepEqual(
    S.fields.map((f) => f.name),
    ['constructor', 'toString', 'valueOf', 'hasOwnProperty'],
  )
  const r = MmapFile.anonymous(4096, { shared: true })
  const o = S.at(r)
  o.constructor = 7
  o.toString = -5
  o.valueOf = 300
  o.hasOwnProperty = 'abc'
  const read = S.read(r)
  t.is(read.constructor, 7)
  t.is(read.toString, -5)
  t.is(read.valueOf, 300)
  t.is(read.hasOwnProperty, 'abc')
  S.write(r, JSON.parse('{"valueOf": 9}') as never)
  t.is(S.read(r).constructor, 7, 'a valueOf key writes that field only')
  t.is(S.read(r).valueOf, 9)
  // Inherited members of a plain values object (its constructor, valueOf) are not fields that were given.
  S.write(r, { toString: 1 } as never)
  t.is(S.read(r).constructor, 7)
  t.is(S.read(r).valueOf, 9)
  r.close()
  const dir = tmpDir(t)
  fs.writeFileSync(path.join(dir, 'odd.h'), S.cHeader())
  fs.writeFileSync(path.join(dir, 'main.c'), '#include "odd.h"\nint main(void) { return 0; }\n')
  t.notThrows(() =>
    execFileSync(
      'cc',
      ['-std=c11', '-Wall', '-Werror', '-o', path.join(dir, 'main'), path.join(dir, 'main.c')],
      {
        stdio: 'pipe',
      },
    ),
  )
})

test('an option key that is not one is ERR_INVALID_ARG_VALUE, naming it and the key that was meant', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'opts.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const message = (fn: () => unknown): string => {
    try {
      fn()
      return 'no error'
    } catch (e) {
      return `${(e as { code?: string }).code} ${(e as Error).message}`
    }
  }
  t.regex(
    message(() => MmapFile.open(file, { sizee: 4096 } as never)),
    /^ERR_INVALID_ARG_VALUE .*'options\.sizee'.*did you mean 'size'/,
  )
  t.regex(
    message(() => MmapFile.open(file, { flag: 'r+' } as never)),
    /^ERR_INVALID_ARG_VALUE .*'options\.flag'.*did you mean 'flags'/,
  )
  t.regex(
    message(() => MmapFile.anonymous(4096, { share: true } as never)),
    /did you mean 'shared'/,
  )
  t.regex(
    message(() => SharedMemory.anonymous(4096).mutex(0).lock()),
    /^no error$/,
  )
  const r = SharedMemory.anonymous(8192)
  t.regex(
    message(() => Channel.create(r, { byteLenght: 4096 } as never)),
    /did you mean 'byteLength'/,
  )
  t.regex(
    message(() => Channel.create(r).receive({ timout: 5 } as never)),
    /did you mean 'timeout'/,
  )
  t.is(
    await r.waitAsync(0, 0, { timout: 5 } as never).catch((e: { code: string }) => e.code),
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    await r
      .mutex(64)
      .lockAsync({ sigal: undefined } as never)
      .catch((e: { code: string }) => e.code),
    'ERR_INVALID_ARG_VALUE',
  )
  // Known keys, inherited members and symbols are fine.
  t.notThrows(() => MmapFile.open(file, Object.assign(Object.create({ bogus: 1 }), { flags: 'r' })).close())
  t.notThrows(() => MmapFile.open(file, { flags: 'r', [Symbol('tag')]: 1 } as never).close())
  r.close()
})

test('util.inspect says what a Mutex and a Channel hold', (t) => {
  const show = (v: unknown) => inspect(v, { breakLength: Infinity })
  const r = SharedMemory.anonymous(8192)
  const m = r.mutex(64)
  t.is(show(m), 'Mutex { byteOffset: 64, held: false, waiters: false }')
  m.lock()
  t.regex(show(m), /^Mutex \{ byteOffset: 64, held: true, owner: \d+, waiters: false \}$/)
  m.unlock()
  const ch = Channel.create(r, { byteOffset: 128 })
  ch.trySend('one')
  ch.trySend('two')
  t.regex(
    show(ch),
    /^Channel \{ capacity: \d+, maxMessageSize: \d+, manyProducers: false, used: 32, pending: 2, ended: false \}$/,
  )
  r.close()
  t.is(show(ch), "Channel { error: 'ERR_MAPSHARE_CLOSED' }")
  t.is(show(m), 'Mutex { byteOffset: 64, closed: true }')
})
