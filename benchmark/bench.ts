// `npm run bench`: mapshare against baselines measured in the same run, reported as ratios.
// Run with --expose-gc (the npm script does). Timings are medians of several runs.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { MmapFile } from 'mapshare'
import { callRows } from './calls.ts'
import { channelRows } from './channel.ts'
import { lockRows } from './lock.ts'
import { wakeRows } from './wake.ts'
import { scaleRows } from './scale.ts'
import { median } from './median.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const dataDir = path.join(here, '.data')
fs.mkdirSync(dataDir, { recursive: true })
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const GiB = 1024 ** 3
const quick = process.argv.includes('--quick')

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

/** Counts garbage collections while `fn` runs. */
async function countGcs(fn: () => void): Promise<{ ms: number; gcs: number }> {
  let gcs = 0
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length))
  obs.observe({ entryTypes: ['gc'] })
  const ms = time(fn)
  await new Promise((r) => setTimeout(r, 50)) // let the observer deliver
  obs.disconnect()
  return { ms, gcs }
}

function sum(f: Float64Array): number {
  let s = 0
  for (let i = 0; i < f.length; i++) s += f[i]
  return s
}

interface Row {
  case: string
  value: string
  ratio: string
}
const rows: Row[] = []
const fmt = (ms: number) => `${ms.toFixed(1)} ms`

// The cross-process rows run first, on a quiet machine: after the sections below (gigabytes mapped
// and freed, thousands of GCs) the kernel and V8 keep a core busy for a while, which a wake-up
// benchmark on 2 cores measures instead of the wake-ups.
// Both regimes of a wake (see wakeRows): CPUs idle between wakes, then every other CPU kept busy.
const wake = [...(await wakeRows(dataDir, quick, 'idle')), ...(await wakeRows(dataDir, quick, 'busy'))]
const locks = await lockRows(dataDir, quick)
const messages = await channelRows(dataDir, quick) // also writes benchmark/channel.svg

// --- 1. Summing a page-cached file as a Float64Array ---------------------------------------------
const size = quick ? 64 * 1024 ** 2 : GiB
const bigFile = path.join(dataDir, `sum-${size}.f64`)
if (!fs.existsSync(bigFile) || fs.statSync(bigFile).size !== size) {
  using w = MmapFile.open(bigFile, { flags: 'w+', size })
  const f = new Float64Array(w.buffer.buffer, w.buffer.byteOffset, size / 8)
  for (let i = 0; i < f.length; i++) f[i] = (i % 1000) * 0.25
}
fs.readFileSync(bigFile) // page-cache it
gc()
const expected = (() => {
  using r = MmapFile.open(bigFile)
  return sum(new Float64Array(r.buffer.buffer, r.buffer.byteOffset, size / 8))
})()

const runs = quick ? 3 : 5
const mmapTimes: number[] = []
const readTimes: number[] = []
const heapTimes: number[] = []
for (let i = 0; i < runs; i++) {
  gc()
  mmapTimes.push(
    time(() => {
      using r = MmapFile.open(bigFile)
      const s = sum(new Float64Array(r.buffer.buffer, r.buffer.byteOffset, size / 8))
      console.assert(s === expected, 'mmap sum')
    }),
  )
  gc()
  readTimes.push(
    time(() => {
      const b = fs.readFileSync(bigFile)
      const s = sum(new Float64Array(b.buffer, b.byteOffset, size / 8))
      console.assert(s === expected, 'readFileSync sum')
    }),
  )
}
{
  gc()
  const heap = new Float64Array(size / 8)
  using r = MmapFile.open(bigFile)
  r.readInto(heap)
  for (let i = 0; i < runs; i++)
    heapTimes.push(time(() => console.assert(sum(heap) === expected, 'heap sum')))
}
const mm = median(mmapTimes)
const rf = median(readTimes)
const hp = median(heapTimes)
const label = `${size / 1024 ** 2} MiB`
rows.push({
  case: `sum ${label} file: MmapFile.open + sum (first pass, incl. map)`,
  value: fmt(mm),
  ratio: '1.00',
})
rows.push({ case: `sum ${label} file: fs.readFileSync + sum`, value: fmt(rf), ratio: (rf / mm).toFixed(2) })
rows.push({
  case: `sum ${label} JS-heap Float64Array (loop limit)`,
  value: fmt(hp),
  ratio: (hp / mm).toFixed(2),
})

// --- 2. map + close per call, against C -----------------------------------------------------------
const cBin = path.join(dataDir, 'map_close')
execFileSync('cc', ['-O2', '-o', cBin, path.join(here, 'map_close.c')])
for (const [name, bytes, n] of [
  ['4 KiB', 4096, quick ? 20_000 : 200_000],
  ['64 MiB', 64 * 1024 ** 2, quick ? 5_000 : 50_000],
] as const) {
  const file = path.join(dataDir, `region-${bytes}.bin`)
  if (!fs.existsSync(file) || fs.statSync(file).size !== bytes) fs.writeFileSync(file, Buffer.alloc(bytes, 1))
  const cNs = median(
    Array.from({ length: 3 }, () =>
      Number(execFileSync(cBin, [file, String(n)], { encoding: 'utf8' }).trim()),
    ),
  )
  gc()
  const plain = await countGcs(() => {
    for (let i = 0; i < n; i++) MmapFile.open(file).close()
  })
  gc()
  const withBuffer = await countGcs(() => {
    for (let i = 0; i < n; i++) {
      const r = MmapFile.open(file)
      if (r.buffer[0] !== 1) throw new Error('bad byte')
      r.close()
    }
  })
  const plainNs = (plain.ms * 1e6) / n
  const bufNs = (withBuffer.ms * 1e6) / n
  rows.push({
    case: `map+close ${name}: C open/mmap/close/munmap (floor)`,
    value: `${cNs.toFixed(0)} ns`,
    ratio: '1.00',
  })
  rows.push({
    case: `map+close ${name}: MmapFile.open + close (${plain.gcs} GCs in ${n} calls)`,
    value: `${plainNs.toFixed(0)} ns`,
    ratio: (plainNs / cNs).toFixed(2),
  })
  rows.push({
    case: `map+close ${name}: open + buffer[0] + close (${withBuffer.gcs} GCs in ${n} calls)`,
    value: `${bufNs.toFixed(0)} ns`,
    ratio: (bufNs / cNs).toFixed(2),
  })
}

// --- 2b. 10,000 regions open at once (open + touch each, then close all), against C -----------------
{
  const n = quick ? 2_000 : 10_000
  const file = path.join(dataDir, 'region-4096.bin')
  const cNs = median(
    Array.from({ length: 3 }, () =>
      Number(execFileSync(cBin, [file, String(n), 'at-once'], { encoding: 'utf8' }).trim()),
    ),
  )
  const jsNs = median(
    Array.from({ length: 3 }, () => {
      gc()
      return (
        (time(() => {
          const open = Array.from({ length: n }, () => MmapFile.open(file))
          for (const r of open) if (r.buffer[0] !== 1) throw new Error('bad byte')
          for (const r of open) r.close()
        }) *
          1e6) /
        n
      )
    }),
  )
  rows.push({
    case: `${n} regions of 4 KiB open at once, each touched, then all closed: C mmap/munmap (floor), per region`,
    value: `${cNs.toFixed(0)} ns`,
    ratio: '1.00',
  })
  rows.push({
    case: `${n} regions of 4 KiB open at once, each touched, then all closed: MmapFile, per region`,
    value: `${jsNs.toFixed(0)} ns`,
    ratio: (jsNs / cNs).toFixed(2),
  })
}

// --- 3. Copy methods (SIGBUS-safe) against a plain memcpy (Buffer.copy from `buffer`) -------------
{
  using r = MmapFile.open(bigFile)
  const view = r.buffer
  const dst = Buffer.alloc(16 * 1024 ** 2, 1)
  for (const bytes of [64, 4096, 1024 ** 2, 16 * 1024 ** 2]) {
    const n = Math.max(20, Math.floor(((quick ? 2 : 8) * 1024 ** 3) / bytes / 16))
    const span = Math.floor(size / bytes) - 1
    const copyMs: number[] = []
    const readIntoMs: number[] = []
    for (let k = 0; k < 3; k++) {
      copyMs.push(
        time(() => {
          for (let i = 0; i < n; i++) view.copy(dst, 0, (i % span) * bytes, (i % span) * bytes + bytes)
        }),
      )
      readIntoMs.push(
        time(() => {
          const target = dst.subarray(0, bytes)
          for (let i = 0; i < n; i++) r.readInto(target, (i % span) * bytes)
        }),
      )
    }
    const c = (median(copyMs) * 1e6) / n
    const ri = (median(readIntoMs) * 1e6) / n
    const show =
      bytes >= 1024 ** 2 ? `${bytes / 1024 ** 2} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`
    rows.push({
      case: `copy ${show} out: buffer.copy (memcpy, can SIGBUS)`,
      value: `${c.toFixed(0)} ns`,
      ratio: '1.00',
    })
    rows.push({
      case: `copy ${show} out: readInto (SIGBUS-safe)`,
      value: `${ri.toFixed(0)} ns`,
      ratio: (ri / c).toFixed(2),
    })
  }
}

// --- 3b. Per-call cost: atomics, small copies, an uncontended lock --------------------------------
rows.push(...callRows(dataDir, quick))

// --- 4. Cross-process wake latency --------------------------------------------------------------
rows.push(...wake)

// --- 5. Lock hand-off between processes -------------------------------------------------------
rows.push(...locks)

// --- 6. Messages between processes: Channel against process.send, a Unix socket, MessagePort ------
rows.push(...messages)

// --- 7. Scale: 100,000 pending waits -------------------------------------------------------------
rows.push(...scaleRows(quick))

console.log(
  `mapshare benchmark — node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()}-${os.arch()}`,
)
console.log('ratio = this row / the first row of its group (lower is faster)\n')
const w0 = Math.max(...rows.map((r) => r.case.length))
const w1 = Math.max(...rows.map((r) => r.value.length))
console.log(`| ${'case'.padEnd(w0)} | ${'time'.padStart(w1)} | ratio |`)
console.log(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|------:|`)
for (const r of rows)
  console.log(`| ${r.case.padEnd(w0)} | ${r.value.padStart(w1)} | ${r.ratio.padStart(5)} |`)
