// The other process of the wake-latency benchmark: answers every ping on the word at offset 0
// (mode 'sync': wait/notify; 'async': waitAsync/notify; 'ipc': process.send).
import { MmapFile } from 'mapshare'

const [file, roundsArg, mode] = process.argv.slice(2)
const rounds = Number(roundsArg)
if (mode === 'ipc') {
  process.on('message', (m: number) => {
    process.send!(m + 1)
    if (m + 1 >= 2 * rounds) process.disconnect()
  })
} else {
  const region = MmapFile.open(file, { flags: 'r+' })
  for (let i = 0; i < rounds; i++) {
    for (;;) {
      const seen = region.load(0)
      if (seen === 2 * i + 1) break
      if (mode === 'async') await region.waitAsync(0, seen, { timeout: 10_000 })
      else region.wait(0, seen, 10_000)
    }
    region.store(0, 2 * i + 2)
    region.notify(0, 1)
  }
  region.close()
}
