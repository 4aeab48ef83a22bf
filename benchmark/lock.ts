// Lock hand-off between processes: 4 processes x N locked increments with mapshare's lock, against a
// C program doing the same with a process-shared robust pthread_mutex_t (the baseline, same run).
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MmapFile } from '../index.js'

const here = path.dirname(fileURLToPath(import.meta.url))

export async function lockRows(dataDir: string, quick: boolean) {
  const n = quick ? 20_000 : 100_000
  const cBin = path.join(dataDir, 'robust_lock')
  execFileSync('cc', ['-O2', '-pthread', '-o', cBin, path.join(here, 'robust_lock.c')])
  const c = Number(execFileSync(cBin, [String(n)], { encoding: 'utf8' }).trim())
  const file = path.join(dataDir, 'lock.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const kids = Array.from({ length: 4 }, () =>
    spawn(
      process.execPath,
      [
        ...process.execArgv.filter((a) => a !== '--expose-gc'),
        path.join(here, 'lock-worker.ts'),
        file,
        String(n),
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
  const ns = Number(end - t0) / (4 * n)
  const region = MmapFile.open(file)
  const total = region.load(8)
  region.close()
  if (total !== 4 * n) throw new Error(`lock benchmark: counter ${total}, expected ${4 * n}`)
  return [
    {
      case: 'locked increment, 4 processes: C robust pthread_mutex_t',
      value: `${c.toFixed(0)} ns`,
      ratio: '1.00',
    },
    {
      case: 'locked increment, 4 processes: mapshare mutex()',
      value: `${ns.toFixed(0)} ns`,
      ratio: (ns / c).toFixed(2),
    },
  ]
}
