import test from 'ava'
import { SharedMemory, ShmSegment, pageSize } from '../src-js/index.ts'
import { fixture, run } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

test('soak: 100,000 open/close cycles and 10,000 dropped regions of every kind leak nothing', async (t) => {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const shmName = `mapshare-soak-${process.pid}`
  SharedMemory.create(shmName, pageSize).close()
  const key = (0x4d500000 + (process.pid & 0xffff)) >>> 0
  const seg = ShmSegment.create(key, pageSize, { exclusive: false })
  t.teardown(() => {
    SharedMemory.unlink(shmName)
    seg.remove()
    seg.detach()
  })
  const r = await run(fixture('soak.ts'), [file, shmName, String(key), '100000', '10000'], {
    nodeArgs: ['--expose-gc'],
    timeout: 900_000,
    idleTimeout: 60_000,
  })
  t.is(r.status, 0, r.stderr)
  const result = JSON.parse(r.stdout)
  t.log(r.stdout.trim())
  const { start } = result
  for (const [kind, after] of Object.entries(result) as [string, any][]) {
    if (kind === 'start') continue
    t.is(after.maps, start.maps, `${kind}: mappings of our objects return to the start`)
    t.is(after.fds, start.fds, `${kind}: open descriptors return to the start`)
    t.true(after.rss < start.rss + 128 * 1024 ** 2, `${kind}: RSS ${start.rss} -> ${after.rss}`)
  }
})
