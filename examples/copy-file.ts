// Seed 000 §3 / seed 004: copy a file through two mappings. Map the source, create the destination
// with the same size, map it shared, and copy memory to memory; the kernel writes the file.
// Usage: node --import @oxc-node/core/register examples/copy-file.ts <source> <destination>
import { MmapFile } from 'mapshare'

export function copyFile(source: string, destination: string): number {
  using src = MmapFile.open(source) // read-only
  using dst = MmapFile.open(destination, { flags: 'w+', size: src.length, mode: 0o644 })
  src.buffer.copy(dst.buffer) // memcpy(ptrB, ptrA, size)
  dst.flush() // optional: msync so the copy is on disk before we return
  return src.length
}

const [source, destination] = process.argv.slice(2)
if (source && destination) {
  const bytes = copyFile(source, destination)
  console.log(`copied ${bytes} bytes from ${source} to ${destination}`)
}
