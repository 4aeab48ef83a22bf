// Scale: 100,000 pending waitAsync calls on one word, made, woken by one notify and settled, against
// the same with Atomics.waitAsync on a SharedArrayBuffer, in the same child process; on the io_uring
// path and on the path without it (MAPSHARE_NO_URING=1: waits grouped by word). Interleaved
// repetitions, medians.
import { execFileSync } from 'node:child_process'
import { median } from './median.ts'

const child = `
const { SharedMemory } = require('mapshare')
const N = Number(process.argv[1])
async function run(make, wake) {
  const t0 = performance.now()
  const ps = []
  for (let i = 0; i < N; i++) ps.push(make())
  const t1 = performance.now()
  const woke = wake()
  const results = await Promise.all(ps)
  if (woke !== N || results.some((r) => r !== 'ok')) throw new Error('not all woken: ' + woke)
  return [t1 - t0, performance.now() - t0]
}
;(async () => {
  const i32 = new Int32Array(new SharedArrayBuffer(64))
  const atomics = await run(() => Atomics.waitAsync(i32, 0, 0).value, () => Atomics.notify(i32, 0))
  const m = SharedMemory.anonymous(4096)
  const ours = await run(() => m.waitAsync(0, 0), () => m.notify(0))
  m.close()
  console.log(JSON.stringify({ atomics, ours }))
})()
`

export function scaleRows(quick: boolean) {
  const n = quick ? 20_000 : 100_000
  const reps = quick ? 1 : 3
  const runs = { ring: [] as number[][], threads: [] as number[][] }
  for (let rep = 0; rep < reps; rep++) {
    for (const [path, env] of [
      ['ring', {}],
      ['threads', { MAPSHARE_NO_URING: '1' }],
    ] as const) {
      const out = execFileSync(process.execPath, ['-e', child, String(n)], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      })
      const { atomics, ours } = JSON.parse(out) as { atomics: number[]; ours: number[] }
      runs[path].push([atomics[1]!, ours[1]!, atomics[0]!, ours[0]!])
    }
  }
  const ms = (x: number) => `${x.toFixed(0)} ms`
  const k = `${n / 1000},000`
  return (['ring', 'threads'] as const).flatMap((path) => {
    const r = runs[path]
    const label = path === 'ring' ? 'io_uring path' : 'grouped by word, no io_uring'
    return [
      {
        case: `${k} pending waits on one word, made + 1 notify + settled: Atomics.waitAsync (floor)`,
        value: ms(median(r.map((x) => x[0]!))),
        ratio: '1.00',
      },
      {
        case: `${k} pending waits on one word, made + 1 notify + settled: region.waitAsync (${label})`,
        value: ms(median(r.map((x) => x[1]!))),
        ratio: median(r.map((x) => x[1]! / x[0]!)).toFixed(2),
      },
    ]
  })
}
