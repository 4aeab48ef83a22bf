// Property test: random sequences of write, read, buffer writes, flush, resize and reopen against a
// plain in-memory model; the bytes on disk (file or /dev/shm object) equal the model at the end.
// npm test runs this file twice: normally and without external buffers (no `buffer` writes then).
import test from 'ava'
import fc from 'fast-check'
import fs from 'node:fs'
import path from 'node:path'
import { MmapFile, SharedMemory } from '../src-js/index.ts'
import { caged } from './helpers/kinds.ts'
import { tmpDir } from './helpers/tmp.ts'

type Op =
  | { op: 'write'; at: number; data: Uint8Array }
  | { op: 'buffer'; at: number; data: Uint8Array }
  | { op: 'read'; at: number; len: number }
  | { op: 'flush' }
  | { op: 'resize'; len: number }
  | { op: 'reopen' }

const MAX = 3 * 4096 + 17
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('write' as const),
    at: fc.nat(MAX),
    data: fc.uint8Array({ minLength: 1, maxLength: 600 }),
  }),
  fc.record({
    op: fc.constant('buffer' as const),
    at: fc.nat(MAX),
    data: fc.uint8Array({ minLength: 1, maxLength: 600 }),
  }),
  fc.record({ op: fc.constant('read' as const), at: fc.nat(MAX), len: fc.nat(700) }),
  fc.constant({ op: 'flush' as const }),
  fc.record({ op: fc.constant('resize' as const), len: fc.integer({ min: 1, max: MAX }) }),
  fc.constant({ op: 'reopen' as const }),
)

interface Subject {
  open(): MmapFile | SharedMemory
  disk(): Buffer
  resizable: boolean
}

function check(subject: Subject, initial: number, ops: Op[]) {
  let model = Buffer.alloc(initial)
  let region = subject.open()
  try {
    for (const o of ops) {
      switch (o.op) {
        case 'write':
        case 'buffer': {
          const fits = o.at + o.data.length <= model.length
          if (o.op === 'buffer') {
            if (caged || !fits) continue
            region.buffer.set(o.data, o.at)
          } else if (!fits) {
            let code: string | undefined
            try {
              region.write(o.data, o.at)
            } catch (e) {
              code = (e as NodeJS.ErrnoException).code
            }
            if (code !== 'ERR_OUT_OF_RANGE') throw new Error(`write past the end gave ${code}`)
            continue
          } else if (region.write(o.data, o.at) !== o.data.length) throw new Error('short write')
          model.set(o.data, o.at)
          break
        }
        case 'read': {
          if (o.at > model.length) continue
          const len = Math.min(o.len, model.length - o.at)
          if (!region.read(o.at, len).equals(model.subarray(o.at, o.at + len)))
            throw new Error(`read ${o.at}+${len} differs`)
          break
        }
        case 'flush':
          region.flush()
          break
        case 'resize': {
          if (!subject.resizable) continue
          ;(region as MmapFile).resize(o.len)
          const next = Buffer.alloc(o.len)
          model.copy(next, 0, 0, Math.min(o.len, model.length))
          model = next
          break
        }
        case 'reopen':
          region.close()
          region = subject.open()
          if (!region.read().equals(model)) throw new Error('reopened contents differ')
          break
      }
    }
    region.flush()
  } finally {
    region.close()
  }
  if (!subject.disk().equals(model)) throw new Error('bytes on disk differ from the model')
}

test('file regions behave like the model, and the file ends up equal to it', (t) => {
  const dir = tmpDir(t)
  let n = 0
  fc.assert(
    fc.property(fc.integer({ min: 1, max: MAX }), fc.array(opArb, { maxLength: 40 }), (initial, ops) => {
      const file = path.join(dir, `model-${++n}.bin`)
      fs.writeFileSync(file, Buffer.alloc(initial))
      check(
        {
          open: () => MmapFile.open(file, { flags: 'r+' }),
          disk: () => fs.readFileSync(file),
          resizable: true,
        },
        initial,
        ops,
      )
      fs.rmSync(file)
    }),
    { numRuns: 150 },
  )
  t.pass()
})

test('POSIX shared memory behaves like the model, and the object ends up equal to it', (t) => {
  let n = 0
  fc.assert(
    fc.property(fc.integer({ min: 1, max: MAX }), fc.array(opArb, { maxLength: 40 }), (initial, ops) => {
      const name = `mapshare-model-${process.pid}-${++n}`
      SharedMemory.create(name, initial).close()
      try {
        check(
          {
            open: () => SharedMemory.open(name),
            disk: () => fs.readFileSync(`/dev/shm/${name}`),
            resizable: false,
          },
          initial,
          ops,
        )
      } finally {
        SharedMemory.unlink(name)
      }
    }),
    { numRuns: 150 },
  )
  t.pass()
})
