// Run by the release workflow under Electron (ELECTRON_RUN_AS_NODE=1): its V8 memory cage forbids
// external buffers, so `buffer` must throw ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE while the copy
// methods work on the shared memory. Exits non-zero on any deviation.
'use strict'
const assert = require('node:assert')
const { MmapFile, SharedMemory } = require('../../dist/index.js')

const region = MmapFile.anonymous(4096, { shared: true })
assert.throws(() => region.buffer, { code: 'ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE' })
assert.strictEqual(region.write('electron'), 8)
assert.strictEqual(region.read(0, 8).toString(), 'electron')
region.close()
const name = `mapshare-electron-${process.pid}`
const shm = SharedMemory.create(name, 4096)
const other = SharedMemory.open(name)
shm.write('shared')
assert.strictEqual(other.read(0, 6).toString(), 'shared')
other.close()
shm.close()
SharedMemory.unlink(name)
console.log(`electron ${process.versions.electron}: copy methods ok, buffer refused as expected`)
