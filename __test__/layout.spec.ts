// C struct layouts: sizes and offsets against the C compiler, a generated header that C compiles and
// uses, reads and writes from both sides, and hostile layouts and values.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { MmapFile, SharedMemory, c, struct, type StructLayout } from '../src-js/index.ts'
import { runPeer } from './helpers/cc.ts'
import { caged } from './helpers/kinds.ts'
import { errorCode as code } from './helpers/errors.ts'
import { snippet } from './helpers/snippet.ts'
import { tmpDir, tmpFile } from './helpers/tmp.ts'

const Setting = struct('st_setting', { agen: c.char(10), file_no: c.u8 })
const GoInts = struct('go_ints', { a: c.i64, b: c.i64, c: c.i64 })
const FileRec = struct('file_rec', { a: c.i32, b: c.char(64) })
const Inner = struct('inner', { tag: c.u8, value: c.f64 })
const Outer = struct('outer', {
  a: c.u8,
  b: c.i64,
  xs: c.array(c.i32, 3),
  name: c.char(5),
  in2: c.array(Inner, 2),
  last: c.u16,
})
const Mixed = struct('mixed', {
  c: c.i8,
  s: c.i16,
  d: c.i8,
  f: c.f32,
  g: c.array(c.u8, 3),
  u: c.u64,
  h: c.i8,
})
const NestedArrays = struct('nested_arrays', { grid: c.array(c.array(c.u16, 3), 2), flag: c.u8 })
const all: StructLayout[] = [Setting, GoInts, FileRec, Inner, Outer, Mixed, NestedArrays] as never

test("sizes and offsets are the C compiler's, for the seed structs and structs that need padding", (t) => {
  const lines = runPeer('layouts', []).trim().split('\n')
  t.is(lines.length, all.length)
  for (const [i, layout] of all.entries()) {
    const ours = [layout.name, layout.size, ...layout.fields.map((f) => f.offset)].join(' ')
    t.is(ours, lines[i], layout.name)
  }
  t.is(Setting.size, 11)
  t.is(FileRec.offsetOf('b'), 4)
})

test('the generated header compiles, and C and Node read what the other wrote', (t) => {
  const dir = tmpDir(t)
  fs.writeFileSync(path.join(dir, 'outer.h'), Outer.cHeader())
  fs.writeFileSync(path.join(dir, 'mixed.h'), Mixed.cHeader())
  // A C peer using the headers as they are: writes one record, then checks and prints the other.
  fs.writeFileSync(
    path.join(dir, 'peer.c'),
    `#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#include "outer.h"
#include "mixed.h"
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDWR);
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  struct outer *o = (struct outer *)p;           /* Node wrote this one */
  struct mixed *m = (struct mixed *)(p + 128);   /* C writes this one */
  printf("%u %lld %d %d %d %.5s %u %.2f %u %.2f %u\\n", o->a, (long long)o->b, o->xs[0], o->xs[1], o->xs[2],
         o->name, o->in2[0].tag, o->in2[0].value, o->in2[1].tag, o->in2[1].value, o->last);
  m->c = -5; m->s = -300; m->d = 7; m->f = 0.25f; m->g[0] = 1; m->g[1] = 2; m->g[2] = 255;
  m->u = 18446744073709551615ull; m->h = -128;
  return munmap(p, 4096) || close(fd);
}
`,
  )
  const exe = path.join(dir, 'peer')
  execFileSync('cc', ['-std=c11', '-Wall', '-Werror', '-o', exe, path.join(dir, 'peer.c')], { stdio: 'pipe' })
  const file = tmpFile(t, Buffer.alloc(4096))
  const r = MmapFile.open(file, { flags: 'r+' })
  Outer.write(r, {
    a: 200,
    b: -(2n ** 40n),
    xs: [1, -2, 2147483647] as never,
    name: 'node',
    in2: [
      { tag: 1, value: 1.5 },
      { tag: 2, value: -2.25 },
    ],
    last: 65535,
  })
  const out = execFileSync(exe, [file], { encoding: 'utf8' })
  t.is(out, '200 -1099511627776 1 -2 2147483647 node 1 1.50 2 -2.25 65535\n')
  const m = Mixed.at(r, 128)
  t.deepEqual(
    [m.c, m.s, m.d, m.f, [...m.g], m.u, m.h],
    [-5, -300, 7, 0.25, [1, 2, 255], 2n ** 64n - 1n, -128],
  )
  r.close()
})

test('fields are read and written in place; arrays of numbers are typed arrays over the memory', (t) => {
  const r = SharedMemory.anonymous(4096)
  const other = SharedMemory.fromFd(r.fd)
  const o = Outer.at(r, 64)
  o.xs = [5, 6, 7] as never
  o.in2[1].value = 9.5
  o.name = 'héé' // 5 bytes of UTF-8
  const seen = Outer.at(other, 64)
  t.deepEqual([...seen.xs], [5, 6, 7])
  t.is(seen.in2[1].value, 9.5)
  t.is(seen.name, 'héé')
  if (!caged) {
    o.xs[2] = 70 // a view, not a copy
    t.is(seen.xs[2], 70)
  }
  t.is(r.read(64 + Outer.offsetOf('last'), 2).readUInt16LE(0), 0)
  seen.last = 513
  t.is(r.read(64 + Outer.offsetOf('last'), 2).readUInt16LE(0), 513)
  t.like(Outer.read(r, 64), {
    name: 'héé',
    last: 513,
    in2: [
      { tag: 0, value: 0 },
      { tag: 0, value: 9.5 },
    ],
  })
  other.close()
  r.close()
})

test('bad layouts are coded errors', (t) => {
  t.is(
    code(() => struct('1bad', { a: c.u8 })),
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    code(() => struct('ok', { 'not-ident': c.u8 })),
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    code(() => struct('ok', {})),
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    code(() => struct('ok', null as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => struct('ok', [c.u8] as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => struct('ok', { a: 'int' } as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => struct('ok', { a: { size: 4, align: 4 } } as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  for (const n of [0, -1, 1.5, NaN, Infinity, 2 ** 60])
    t.is(
      code(() => c.char(n)),
      'ERR_OUT_OF_RANGE',
      String(n),
    )
  t.is(
    code(() => c.array(c.u8, '3' as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => c.array(c.array(c.f64, 2 ** 40), 2 ** 20)),
    'ERR_OUT_OF_RANGE',
  )
  const A = struct('same', { a: c.u8 })
  const B = struct('same', { b: c.u16 })
  t.is(
    code(() => struct('both', { x: A, y: B }).cHeader()),
    'ERR_INVALID_ARG_VALUE',
  )
})

test('bad places and values are coded errors, and a rejected write changes nothing', (t) => {
  const r = MmapFile.anonymous(4096, { shared: true })
  t.is(
    code(() => Outer.at(r, 4)),
    'ERR_MAPSHARE_UNALIGNED',
  )
  t.is(
    code(() => Outer.at(r, 4096 - 72)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => Outer.at(r, -8)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => Outer.at({} as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  const o = Outer.at(r, 0)
  t.is(
    code(() => (o.a = 256)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => (o.a = 1.5)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => (o.b = 5 as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => (o.b = 2n ** 63n)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => (o.name = 'toolong')),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => (o.name = 'a\0b')),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => (o.xs = [1, 2] as never)),
    'ERR_OUT_OF_RANGE',
  )
  t.throws(
    () => ((o as Record<string, unknown>).nope = 1),
    { instanceOf: TypeError },
    'no fields but the layout’s',
  )
  o.xs = [1, 2, 3] as never
  t.is(
    code(() => (o.xs = [9, 9, 'x'] as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.deepEqual([...o.xs], [1, 2, 3], 'nothing of the rejected array was written')
  t.is(
    code(() => Outer.write(r, { a: 1, b: 'x' } as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(o.a, 0, 'nothing of the rejected object was written')
  t.is(
    code(() => Outer.write(r, { zzz: 1 } as never)),
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    code(() => Outer.offsetOf('zzz' as never)),
    'ERR_INVALID_ARG_VALUE',
  )
  r.close()
})

test('values are read once: a getter cannot pass the check with one value and write another', async (t) => {
  const r = MmapFile.anonymous(4096, { shared: true })
  let reads = 0
  const fickle = {
    a: 1,
    get b() {
      reads++
      return reads === 1 ? 5n : ('not a bigint' as never)
    },
    xs: [1, 2, 3],
  }
  Outer.write(r, fickle as never)
  t.is(reads, 1)
  t.is(Outer.at(r).b, 5n)
  // A getter that throws after others were read leaves the struct as it was.
  const before = r.read(0, Outer.size)
  t.throws(() =>
    Outer.write(r, {
      a: 9,
      get b(): bigint {
        throw new Error('from a getter')
      },
    } as never),
  )
  t.true(r.read(0, Outer.size).equals(before))
  r.close()
  // A getter that closes the region mid-write: a coded error or inert memory, never a crash.
  const res = await snippet(`
    const { c, struct } = mapshare
    const S = struct('s', { a: c.u8, b: c.u32 })
    const r = MmapFile.anonymous(4096, { shared: true })
    try { S.write(r, { a: 1, get b() { r.close(); return 2 } }); console.log('written') } catch (e) { console.log(e.code) }
  `)
  t.is(res.signal, null, res.stderr)
  t.regex(res.stdout.trim(), /^(written|ERR_MAPSHARE_CLOSED)$/)
})

test('on a read-only region, struct writes are ERR_MAPSHARE_READ_ONLY and reads follow the writer', (t) => {
  const file = path.join(tmpDir(t), 'ro.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const S = struct('ro', { a: c.i32, b: c.f64, tag: c.char(4), xs: c.array(c.u16, 2) })
  const rw = MmapFile.open(file, { flags: 'r+' })
  const ro = MmapFile.open(file)
  t.true(ro.readOnly)
  t.false(rw.readOnly)
  S.write(rw, { a: 1, b: 2, tag: 'one', xs: [3, 4] })
  const live = S.at(ro)
  t.is(live.a, 1)
  for (const write of [
    () => S.write(ro, { a: 5 }),
    () => (live.a = 5),
    () => (live.tag = 'x'),
    () => (live.xs = Uint16Array.of(1, 2)),
  ])
    t.is(code(write), 'ERR_MAPSHARE_READ_ONLY')
  // Nothing of those writes stayed in this process: the reads still follow the writer.
  S.write(rw, { a: 7, tag: 'two', xs: [8, 9] })
  t.is(live.a, 7)
  t.is(live.tag, 'two')
  t.deepEqual([...live.xs], [8, 9])
  t.like(S.read(ro), { a: 7, b: 2, tag: 'two' })
  for (const r of [rw, ro]) r.close()
})
