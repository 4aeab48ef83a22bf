// Seed 003: a writer creates a POSIX shared memory object of 4 GB (sparse: nothing is resident until
// touched), writes a struct of three 64-bit integers, and a reader maps it by name and prints them.
// Usage: node --import @oxc-node/core/register examples/posix-shm.ts [writer|reader|both]
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SharedMemory, c, struct } from 'mapshare'

const SHM_NAME = 'my_shm'
const SHM_SIZE = 4 * 1000 * 1000 * 1000
// type MyData struct { Col1, Col2, Col3 int } (Go's int is 64-bit)
const MyData = struct('MyData', { col1: c.i64, col2: c.i64, col3: c.i64 })

function writer() {
  try {
    SharedMemory.unlink(SHM_NAME) // as the seed does before shm_open(O_CREAT|O_EXCL)
  } catch {}
  using shm = SharedMemory.create(SHM_NAME, SHM_SIZE, { mode: 0o644 })
  MyData.write(shm, { col1: 100n, col2: 876n, col3: 8021n })
  console.log(`writer: ${SHM_SIZE} bytes mapped, wrote {100 876 8021}`)
}

function reader() {
  using shm = SharedMemory.open(SHM_NAME, { readonly: true })
  const { col1, col2, col3 } = MyData.read(shm) // a read-only mapping: read() copies the fields out
  console.log(`reader: {${col1} ${col2} ${col3}}`)
}

const role = process.argv[2] ?? 'both'
if (role === 'writer') writer()
else if (role === 'reader') reader()
else {
  // Two separate processes, as in the seed.
  const self = fileURLToPath(import.meta.url)
  for (const r of ['writer', 'reader']) {
    const p = spawnSync(process.execPath, [...process.execArgv, self, r], { stdio: 'inherit' })
    if (p.status !== 0) process.exit(p.status ?? 1)
  }
  SharedMemory.unlink(SHM_NAME)
}
