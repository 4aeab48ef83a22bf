// Per-call cost: mapshare's atomics, small copies and an uncontended lock against the same work on
// a typed array over `buffer` (the floor), on the fast path (after warm-up) and through the native
// calls alone (a frozen region never takes the fast path: what every call costs where external
// buffers are forbidden, as under Electron). Returns table rows; used by bench.ts.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { MmapFile } from 'mapshare'
import { median } from './median.ts'

// The addon's internal exports, from the very module 'mapshare' loaded (dist/native.js, by path).
const { selfTest } = createRequire(import.meta.url)('../dist/native.js') as { selfTest: { noop(): void } }

/** ns per iteration of `fn(i)`, the median of 5 runs of `n` iterations. */
function per(n: number, fn: (i: number) => void): number {
  const runs: number[] = []
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn(i)
    runs.push(Number(process.hrtime.bigint() - t0) / n)
  }
  return median(runs)
}

export function callRows(dataDir: string, quick: boolean) {
  const n = quick ? 200_000 : 2_000_000
  const fast = MmapFile.anonymous(1 << 20, { shared: true })
  const native = Object.freeze(MmapFile.anonymous(1 << 20, { shared: true }))
  const i32 = new Int32Array(fast.buffer.buffer, fast.buffer.byteOffset, 1024)
  const view = fast.buffer
  const dst = Buffer.alloc(64)
  const lock = fast.mutex(8192)
  const nativeLock = native.mutex(8192)
  let sink = 0
  const rows: { case: string; value: string; ratio: string }[] = []
  const group = (name: string, cases: [string, (i: number) => void][]) => {
    let base = 0
    for (const [label, fn] of cases) {
      const ns = per(n, fn)
      if (base === 0) base = ns
      rows.push({ case: `${name}: ${label}`, value: `${ns.toFixed(1)} ns`, ratio: (ns / base).toFixed(2) })
    }
  }
  group('32-bit load', [
    ['Atomics.load on an Int32Array over buffer (floor)', (i) => (sink += Atomics.load(i32, i & 255))],
    ['region.load (fast path)', (i) => (sink += fast.load((i & 255) * 4))],
    ['region.load (native call, no fast path)', (i) => (sink += native.load((i & 255) * 4))],
  ])
  group('32-bit add', [
    ['Atomics.add on an Int32Array over buffer (floor)', (i) => (sink += Atomics.add(i32, i & 255, 1))],
    ['region.add (fast path)', (i) => (sink += fast.add((i & 255) * 4, 1))],
    ['region.add (native call, no fast path)', (i) => (sink += native.add((i & 255) * 4, 1))],
  ])
  group('copy 64 B out of anonymous memory', [
    ['buffer.copy (floor)', (i) => (sink += view.copy(dst, 0, (i & 255) * 64, (i & 255) * 64 + 64))],
    ['region.readInto (fast path)', (i) => (sink += fast.readInto(dst, (i & 255) * 64))],
    ['region.readInto (native call, no fast path)', (i) => (sink += native.readInto(dst, (i & 255) * 64))],
  ])
  const file = path.join(dataDir, 'calls.bin')
  fs.writeFileSync(file, Buffer.alloc(1 << 16, 1))
  const fileRegion = MmapFile.open(file, { flags: 'r+' })
  const fileNative = Object.freeze(MmapFile.open(file, { flags: 'r+' }))
  const fileView = fileRegion.buffer
  group('copy 64 B out of a file (checked copy: EFAULT, not SIGBUS, if truncated)', [
    [
      'buffer.copy (floor; can SIGBUS)',
      (i) => (sink += fileView.copy(dst, 0, (i & 255) * 64, (i & 255) * 64 + 64)),
    ],
    ['region.readInto (native, by handle)', (i) => (sink += fileRegion.readInto(dst, (i & 255) * 64))],
    [
      'region.readInto (native call, no fast path)',
      (i) => (sink += fileNative.readInto(dst, (i & 255) * 64)),
    ],
  ])
  // The floor of any call into the addon: an exported function that does nothing.
  group('a call into the addon', [
    ['an exported function that does nothing (floor)', () => selfTest.noop()],
    [
      'region.readInto 64 B of a file (native, by handle)',
      (i) => (sink += fileRegion.readInto(dst, (i & 255) * 64)),
    ],
    [
      'region.write 64 B into a file (native, by handle)',
      (i) => (sink += fileRegion.write(dst, (i & 255) * 64)),
    ],
  ])
  group('write 64 B into a file (checked copy)', [
    ['buffer.set (floor; can SIGBUS)', (i) => fileView.set(dst, (i & 255) * 64)],
    ['region.write (native, by handle)', (i) => (sink += fileRegion.write(dst, (i & 255) * 64))],
    ['region.write (native call, no fast path)', (i) => (sink += fileNative.write(dst, (i & 255) * 64))],
  ])
  fileRegion.close()
  fileNative.close()
  group('uncontended lock + unlock', [
    [
      'Atomics.compareExchange twice (floor)',
      () => {
        Atomics.compareExchange(i32, 1000, 0, 1)
        Atomics.compareExchange(i32, 1000, 1, 0)
      },
    ],
    [
      'mutex().lock() + unlock() (JS layer: native calls by handle)',
      () => {
        lock.lock()
        lock.unlock()
      },
    ],
    [
      'mutex().lock() + unlock() (native method calls)',
      () => {
        nativeLock.lock()
        nativeLock.unlock()
      },
    ],
  ])
  if (sink === 0.5) console.log(sink) // keep the work observable
  fast.close()
  native.close()
  return rows
}
