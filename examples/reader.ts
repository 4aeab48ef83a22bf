// Process B of seed 000 §2.2 / seed 001 §3: maps the same file and prints what process A wrote.
// Usage: node --import @oxc-node/core/register examples/reader.ts <file>
import { MmapFile } from 'mapshare'

const [file] = process.argv.slice(2)
const region = MmapFile.open(file) // read-only
const end = region.buffer.indexOf(0)
console.log(
  `reader ${process.pid}: read ${JSON.stringify(region.buffer.toString('utf8', 0, end))} from ${file}`,
)
region.close()
