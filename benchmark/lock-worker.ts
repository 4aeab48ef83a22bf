// One of the benchmark's lock processes: `count` locked increments of the plain counter at byte 8,
// through two atomics, under the lock at byte 0. Started by lock.ts; waits for 'go' on stdin.
import { MmapFile } from '../index.js'

const [file, countArg] = process.argv.slice(2)
const region = MmapFile.open(file, { mode: 'r+' })
const lock = region.mutex(0)
const count = Number(countArg)
process.stdin.once('data', () => {
  for (let i = 0; i < count; i++) {
    lock.lock()
    region.store(8, region.load(8) + 1) // two separate atomics: only the lock makes them one increment
    lock.unlock()
  }
  // The end of the work, on the clock the parent started (CLOCK_MONOTONIC, the same in every
  // process): a Node process's exit takes milliseconds that are not the lock's.
  process.stdout.write(`done ${process.hrtime.bigint()}\n`, () => {
    region.close()
    process.exit(0)
  })
})
process.stdout.write('ready\n')
