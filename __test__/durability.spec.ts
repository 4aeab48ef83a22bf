import test from 'ava'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { MmapFile, SharedMemory } from '../src-js/index.ts'
import { fixture, LOADER, ROOT, start, waitForLine } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

test('a writer killed with SIGKILL mid-write: everything it wrote is in the file afterwards', async (t) => {
  const slots = 4 * 1024 * 1024 // 16 MiB of u32 records
  const file = tmpFile(t, Buffer.alloc(slots * 4))
  const writer = start(fixture('killed-writer.ts'), [file], { timeout: 60_000 })
  // The writer reports once, after its first 1,000,000 records, then writes one a millisecond.
  const reported = await new Promise<number>((resolve, reject) => {
    let out = ''
    writer.child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    writer.child.on('close', () => reject(new Error('writer exited early')))
  })
  t.is(reported, 1_000_000)
  writer.child.kill('SIGKILL')
  const r = await writer.done
  t.is(r.signal, 'SIGKILL')
  const disk = new Uint32Array(fs.readFileSync(file).buffer.slice(0))
  let written = 0
  while (written < disk.length && disk[written] === written + 1) written++
  t.true(written >= reported, `the file holds ${written} records; the writer had reported ${reported}`)
  t.true(written < disk.length, 'the kill did land mid-loop')
  // Nothing after the contiguous prefix but zeros or the one record in flight.
  t.true(
    disk.subarray(written + 1).every((v) => v === 0),
    'no stray data after the last record',
  )
})

async function adders(t: any, n: number, count: number, target: string, fd?: number) {
  const procs = Array.from({ length: n }, () =>
    spawn(process.execPath, [...LOADER, fixture('atomic-adder.ts'), target, String(count)], {
      cwd: ROOT,
      stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', fd],
    }),
  )
  const codes = await Promise.all(
    procs.map(
      (p) =>
        new Promise<number | null>((resolve) => {
          let err = ''
          p.stderr!.on('data', (d) => (err += d))
          p.on('close', (code) => {
            if (code !== 0) t.log(err)
            resolve(code)
          })
        }),
    ),
  )
  t.deepEqual(codes, Array(n).fill(0))
}

test('4 processes x 100,000 Atomics.add on a shared file mapping give the exact count', async (t) => {
  const file = tmpFile(t, Buffer.alloc(4096))
  await adders(t, 4, 100_000, file)
  const region = MmapFile.open(file)
  t.is(region.buffer.readInt32LE(0), 400_000)
  region.close()
})

test('4 processes x 100,000 Atomics.add on memfd shared memory give the exact count', async (t) => {
  const shm = SharedMemory.anonymous(4096)
  await adders(t, 4, 100_000, '-', shm.fd)
  t.is(shm.buffer.readInt32LE(0), 400_000)
  shm.close()
})
