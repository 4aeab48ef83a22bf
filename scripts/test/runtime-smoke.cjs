// A dependency-free smoke test for any Node-API runtime (Node of any version, Bun): loads the
// package, shares a file between this process and a child of the same runtime, uses anonymous,
// POSIX and System V memory, struct layouts, views and a channel, and checks that a Buffer reads zeros
// after close(). Exits non-zero on failure.
'use strict'
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { MmapFile, SharedMemory, ShmSegment, pageSize } = require('../../dist/index.js')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-runtime-'))
async function main() {
  const file = path.join(dir, 'shared.bin')
  const region = MmapFile.open(file, { flags: 'w+', size: pageSize })
  region.buffer.write('from the parent')
  const child = spawnSync(
    process.execPath,
    [
      '-e',
      `const { MmapFile } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/index.js'))}); const r = MmapFile.open(${JSON.stringify(file)}, { flags: 'r+' }); process.stdout.write(r.read(0, 15).toString()); r.write('from the child', 100); r.close()`,
    ],
    { encoding: 'utf8' },
  )
  assert.strictEqual(child.stdout, 'from the parent', child.stderr)
  assert.strictEqual(region.buffer.toString('utf8', 100, 114), 'from the child')
  const view = region.buffer.subarray(1)
  region.close()
  // Not detached: the range is inert memory after close() (zeros), never unmapped under the view.
  assert.strictEqual(view.length, 4095)
  assert.ok(view.every((b) => b === 0))

  const anon = MmapFile.anonymous(pageSize, { shared: true })
  anon.write('anon')
  assert.strictEqual(anon.read(0, 4).toString(), 'anon')
  anon.close()

  // The JS layers: a struct layout, a view, a channel, and a wait that sleeps (threads under Bun).
  const { Channel, c, struct } = require(path.resolve(__dirname, '../../dist/index.js'))
  const shared = MmapFile.anonymous(8192, { shared: true })
  const Pair = struct('pair', { a: c.u8, b: c.f64 })
  Pair.write(shared, { a: 7, b: 1.5 }, 4096)
  assert.deepStrictEqual(Pair.read(shared, 4096), { a: 7, b: 1.5 })
  assert.strictEqual(shared.view(Float64Array, 4096 + 8, 1)[0], 1.5)
  const channel = Channel.create(shared, { byteLength: 4096 })
  assert.ok(channel.trySend('through the channel'))
  assert.strictEqual(String(channel.tryReceive()), 'through the channel')
  setTimeout(() => channel.trySend('later'), 20)
  assert.strictEqual(String(await channel.receiveAsync({ timeout: 5000 })), 'later')
  shared.close()

  const name = `mapshare-runtime-${process.pid}`
  const shm = SharedMemory.create(name, pageSize)
  const other = SharedMemory.open(name)
  shm.write('posix')
  assert.strictEqual(other.read(0, 5).toString(), 'posix')
  other.close()
  shm.close()
  SharedMemory.unlink(name)

  const seg = ShmSegment.create('private', 64)
  seg.write('sysv')
  assert.strictEqual(seg.read(0, 4).toString(), 'sysv')
  seg.remove()
  seg.detach()
  console.log(`ok: ${process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`}`)
}
main().then(
  () => fs.rmSync(dir, { recursive: true, force: true }),
  (e) => {
    fs.rmSync(dir, { recursive: true, force: true })
    console.error(e)
    process.exit(1)
  },
)
