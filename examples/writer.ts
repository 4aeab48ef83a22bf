// Process A of seed 000 §2.2 / seed 001 §3: maps a file shared and writes a message into it.
// Usage: node --import @oxc-node/core/register examples/writer.ts <file> [message]
import { MmapFile } from 'mapshare'

const [file, message = `hello from writer pid ${process.pid}`] = process.argv.slice(2)
// 'w+' creates the file; size gives it room (a zero-length file cannot be mapped).
const region = MmapFile.open(file, { flags: 'w+', size: 4096 })
region.buffer.write(message + '\0') // a plain memory write: no write(2), no flush
console.log(`writer ${process.pid}: wrote ${JSON.stringify(message)} into ${file}`)
console.log('ready')
// Keep the mapping until told to stop, so the reader shares live memory with us.
process.stdin.resume().on('end', () => region.close())
