// One of the benchmark's lock processes: `count` locked increments of the counter at byte 8, under
// the lock at byte 0. Mode 'plain' increments an Int32Array over `buffer` (what the C baseline does
// with its plain `long`); mode 'atomics' uses region.load/store (two separate atomics: only the lock
// makes them one increment). Started by lock.ts; warms up (the JIT) on the counter at byte 16, then
// waits for 'go' on stdin.
import { MmapFile } from 'mapshare'
import type { Mutex } from 'mapshare'

const [file, countArg, mode] = process.argv.slice(2)
const region = MmapFile.open(file, { flags: 'r+' })
const lock = region.mutex(0)
const count = Number(countArg)

function plain(lock: Mutex, counter: Int32Array, n: number) {
  for (let i = 0; i < n; i++) {
    lock.lock()
    counter[0]++
    lock.unlock()
  }
}

function atomics(lock: Mutex, at: number, n: number) {
  for (let i = 0; i < n; i++) {
    lock.lock()
    region.store(at, region.load(at) + 1)
    lock.unlock()
  }
}

const run = (at: number, n: number) =>
  mode === 'plain'
    ? plain(lock, new Int32Array(region.buffer.buffer, region.buffer.byteOffset + at, 1), n)
    : atomics(lock, at, n)

run(16, 50_000)
process.stdin.once('data', () => {
  run(8, count)
  // The end of the work, on the clock the parent started (CLOCK_MONOTONIC, the same in every
  // process): a Node process's exit takes milliseconds that are not the lock's.
  process.stdout.write(`done ${process.hrtime.bigint()}\n`, () => {
    region.close()
    process.exit(0)
  })
})
process.stdout.write('ready\n')
