// Lock hand-off between processes: 4 processes x N locked increments with mapshare's lock, against a
// C program doing the same with a process-shared robust pthread_mutex_t (the baseline, same run).
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MmapFile } from 'mapshare'
import { median } from './median.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

/** 4 lock processes doing `n` increments each; ns per increment, from 'go' to the last one's end. */
async function mapshare(file: string, n: number, mode: 'plain' | 'atomics'): Promise<number> {
  fs.writeFileSync(file, Buffer.alloc(4096))
  const kids = Array.from({ length: 4 }, () =>
    spawn(
      process.execPath,
      [
        ...process.execArgv.filter((a) => a !== '--expose-gc'),
        path.join(here, 'lock-worker.ts'),
        file,
        String(n),
        mode,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  )
  await Promise.all(kids.map((k) => new Promise((r) => k.stdout!.once('data', r))))
  const ends = kids.map(
    (k) =>
      new Promise<bigint>((resolve) => {
        let out = ''
        k.stdout!.on('data', (d) => (out += d))
        k.on('close', () => resolve(BigInt(/done (\d+)/.exec(out)![1])))
      }),
  )
  const t0 = process.hrtime.bigint()
  for (const k of kids) k.stdin!.write('go\n')
  const end = (await Promise.all(ends)).reduce((a, b) => (a > b ? a : b))
  const region = MmapFile.open(file)
  const total = region.load(8)
  region.close()
  if (total !== 4 * n) throw new Error(`lock benchmark: counter ${total}, expected ${4 * n}`)
  return Number(end - t0) / (4 * n)
}

/**
 * Interleaved repetitions (C, mapshare plain, mapshare atomics, C, ...); each row gives the median,
 * its ratio the median over repetitions of (this run / the C run of the same repetition). The Node
 * processes run their loop once before the clock starts (the JIT's warm-up).
 */
export async function lockRows(dataDir: string, quick: boolean) {
  const n = quick ? 100_000 : 1_000_000
  const reps = quick ? 1 : 3
  const cBin = path.join(dataDir, 'robust_lock')
  execFileSync('cc', ['-O2', '-pthread', '-o', cBin, path.join(here, 'robust_lock.c')])
  const file = path.join(dataDir, 'lock.bin')
  const c: number[] = []
  const plain: number[] = []
  const atomics: number[] = []
  for (let rep = 0; rep < reps; rep++) {
    c.push(Number(execFileSync(cBin, [String(n)], { encoding: 'utf8' }).trim()))
    plain.push(await mapshare(file, n, 'plain'))
    atomics.push(await mapshare(file, n, 'atomics'))
  }
  const ratio = (xs: number[]) => median(xs.map((x, i) => x / c[i])).toFixed(2)
  return [
    {
      case: 'locked increment, 4 processes: C robust pthread_mutex_t, plain counter',
      value: `${median(c).toFixed(0)} ns`,
      ratio: '1.00',
    },
    {
      case: 'locked increment, 4 processes: mapshare mutex(), plain counter (Int32Array)',
      value: `${median(plain).toFixed(0)} ns`,
      ratio: ratio(plain),
    },
    {
      case: 'locked increment, 4 processes: mapshare mutex(), counter by region.load/store',
      value: `${median(atomics).toFixed(0)} ns`,
      ratio: ratio(atomics),
    },
  ]
}
