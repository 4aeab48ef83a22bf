// Seeds 000 §2.1 / 004 (parent and child share a mapping across fork): Node has no fork, so the
// parent makes anonymous shared memory (memfd) and hands its descriptor to the child in spawn's stdio.
// Usage: node --import @oxc-node/core/register examples/memfd-child.ts
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SharedMemory } from 'mapshare'

if (process.argv[2] === 'child') {
  const shm = SharedMemory.fromFd(3) // the descriptor is in slot 3 of our stdio
  console.log(`child read: ${shm.buffer.toString('utf8', 0, shm.buffer.indexOf(0))}`)
  shm.write('nihao a, parent!\0', 512)
  shm.close()
} else {
  const shm = SharedMemory.anonymous(4096)
  shm.write('hello, world\0')
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'child'], {
    stdio: ['ignore', 'inherit', 'inherit', shm.fd],
  })
  child.on('close', (code) => {
    console.log(`parent read: ${shm.buffer.toString('utf8', 512, shm.buffer.indexOf(0, 512))}`)
    shm.close()
    process.exitCode = code ?? 1
  })
}
