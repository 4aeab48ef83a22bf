// Run by `npm run test:runtimes` under Deno with only the permissions mapshare needs:
// `--allow-ffi --allow-read=<the package>` (no --allow-env, no --allow-write, no --allow-run).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { MmapFile, SharedMemory } = require('../../dist/index.js')
const region = MmapFile.anonymous(4096, { shared: true })
region.store(0, 42)
const shm = SharedMemory.anonymous(4096)
shm.write('deno')
const ok = region.load(0) === 42 && shm.read(0, 4).toString() === 'deno'
region.close()
shm.close()
if (!ok) throw new Error('deno: wrong values')
console.log('deno: mapshare works with --allow-ffi --allow-read only')
