// npx mapshare (src-js/cli.ts, run as the package ships it: dist/cli.js): ls, inspect, rm and gc
// against objects this process and killed children made.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Channel, MmapFile, SharedMemory, ShmSegment, pageSize } from '../src-js/index.ts'
import { lockAvailable } from './helpers/kinds.ts'
import { snippet } from './helpers/snippet.ts'
import { ROOT } from './helpers/spawn.ts'

const linux = process.platform === 'linux'

function cli(...args: string[]): { status: number | null; out: any; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  let out: unknown = null
  try {
    out = JSON.parse(args.includes('--json') && r.status !== 0 ? r.stderr : r.stdout)
  } catch {}
  return { status: r.status, out, stdout: r.stdout, stderr: r.stderr }
}

test('ls lists POSIX objects (with the channel at their start and who maps them) and System V segments', (t) => {
  if (!linux)
    return t.pass(
      'ls reads /dev/shm and /proc: Linux only (other systems: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM)',
    )
  const name = `/mapshare-cli-${process.pid}`
  const shm = SharedMemory.create(name, 2 * pageSize, { mode: 0o640, unlinkOnClose: true })
  const ch = Channel.create(shm)
  ch.trySend('one')
  ch.trySend('two')
  const key = (0x4d430000 + (process.pid & 0xffff)) >>> 0
  const seg = ShmSegment.create(key, pageSize, { exclusive: false })
  t.teardown(() => {
    seg.remove()
    seg.detach()
    shm.close()
  })
  const r = cli('ls', '--json')
  t.is(r.status, 0, r.stderr)
  const mine = r.out.find((o: { name: string }) => o.name === name)
  t.like(mine, {
    kind: 'posix',
    size: 2 * pageSize,
    mode: 0o640,
    uid: process.getuid!(),
    madeByMapshare: false,
  })
  t.true(mine.attached >= 1, 'this process maps it')
  t.like(mine.channel, {
    byteOffset: 0,
    capacity: 4096,
    pending: 2,
    sent: 2,
    received: 0,
    ended: false,
  })
  const segment = r.out.find((o: { id: number }) => o.id === seg.id)
  t.like(segment, {
    kind: 'sysv',
    key,
    size: pageSize,
    attached: 1,
    creatorPid: process.pid,
    creatorAlive: true,
  })
  const human = cli('ls')
  t.regex(human.stdout, /^KIND\s+NAME\s+SIZE\s+MODE\s+OWNER\s+ATTACHED\s+CREATOR\s+CONTENT/)
  t.regex(human.stdout, new RegExp(`${name}\\s+8192\\s+0640.*channel: 2 pending`))
})

test('inspect decodes a channel header and a lock word, by name, key or file', (t) => {
  if (!linux) return t.pass('the POSIX name and the thread id checks are Linux-specific here')
  const name = `/mapshare-cli-inspect-${process.pid}`
  const shm = SharedMemory.create(name, 2 * pageSize, { unlinkOnClose: true })
  t.teardown(() => shm.close())
  Channel.create(shm, { byteOffset: 0 }).trySend('x')
  const channel = cli('inspect', name, '--json')
  t.is(channel.status, 0, channel.stderr)
  t.like(channel.out, { target: name, length: 2 * pageSize, channel: { pending: 1, manyProducers: false } })
  t.is(cli('inspect', name, '--offset', '64', '--json').out.channel, null, 'no channel at offset 64')
  if (lockAvailable) {
    const lock = shm.mutex(4096)
    lock.lock()
    const held = cli('inspect', name, '--offset', '4096', '--lock', '--json')
    t.like(held.out.lock, { held: true, owner: process.pid, ownerDied: false, ownerAlive: true })
    lock.unlock()
    t.like(cli('inspect', name, '--offset', '4096', '--lock', '--json').out.lock, {
      held: false,
      owner: null,
    })
  }
  // By System V key, and a file by its path.
  const key = (0x4d490000 + (process.pid & 0xffff)) >>> 0
  const seg = ShmSegment.create(key, 2 * pageSize, { exclusive: false })
  t.teardown(() => {
    seg.remove()
    seg.detach()
  })
  Channel.create(seg, { producers: 'many' })
  t.like(cli('inspect', `key:${key}`, '--json').out.channel, { pending: 0, manyProducers: true })
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-cli-')), 'channel.bin')
  t.teardown(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }))
  const onFile = MmapFile.open(file, { flags: 'w+', size: 2 * pageSize })
  Channel.create(onFile).end()
  onFile.close()
  t.like(cli('inspect', file, '--json').out.channel, { pending: 0, ended: true })
  const misaligned = cli('inspect', name, '--offset', '2', '--lock', '--json')
  t.is(misaligned.status, 2)
  t.is(misaligned.out.error.code, 'ERR_INVALID_ARG_VALUE')
  const missing = cli('inspect', '/mapshare-cli-no-such-name', '--json')
  t.is(missing.status, 1)
  t.is(missing.out.error.code, 'ENOENT')
})

test('gc removes the names mapshare made whose creator died and nobody maps; --dry-run only lists them', async (t) => {
  if (!linux) return t.pass('gc reads /dev/shm and /proc: Linux only')
  // A child makes a unique name and dies without a chance to clean up.
  const r = await snippet(`
    const shm = SharedMemory.create(null, 4096)
    console.log(shm.name)
    process.kill(process.pid, 'SIGKILL')`)
  const orphan = r.stdout.trim()
  t.regex(orphan, /^\/ms-/, r.stderr)
  t.teardown(() => fs.rmSync(`/dev/shm${orphan}`, { force: true }))
  const alive = SharedMemory.create(null, 4096, { unlinkOnClose: true }) // ours: alive, mapped
  t.teardown(() => alive.close())
  const dry = cli('gc', '--dry-run', '--json')
  t.is(dry.status, 0, dry.stderr)
  t.true(dry.out.wouldRemove.includes(orphan))
  t.false(dry.out.wouldRemove.includes(alive.name))
  t.true(fs.existsSync(`/dev/shm${orphan}`), '--dry-run removes nothing')
  const done = cli('gc', '--json')
  t.true(done.out.removed.includes(orphan))
  t.false(fs.existsSync(`/dev/shm${orphan}`))
  t.true(fs.existsSync(`/dev/shm${alive.name}`), 'a live creator keeps its name')
})

test('rm removes POSIX names and System V segments by key or id; bad usage exits 2 with a code', (t) => {
  if (!linux) return t.pass('checked through /dev/shm and /proc: Linux only')
  const name = `mapshare-cli-rm-${process.pid}`
  SharedMemory.create(name, pageSize).close()
  const key = (0x4d520000 + (process.pid & 0xffff)) >>> 0
  const byKey = ShmSegment.create(key, pageSize, { exclusive: false })
  byKey.detach()
  const byId = ShmSegment.create('private', pageSize)
  byId.detach()
  const r = cli('rm', name, `key:${key}`, `id:${byId.id}`, '--json')
  t.is(r.status, 0, r.stderr)
  t.deepEqual(r.out.removed, [name, `key:${key}`, `id:${byId.id}`])
  t.false(fs.existsSync(`/dev/shm/${name}`))
  t.throws(() => ShmSegment.open(key), { code: 'ENOENT' })
  t.throws(() => ShmSegment.fromId(byId.id))
  for (const bad of [
    ['frobnicate'],
    ['rm'],
    ['rm', 'key:nope'],
    ['rm', '/tmp/some/file'],
    ['ls', '--sideways'],
  ]) {
    const out = cli(...bad, '--json')
    t.is(out.status, 2, bad.join(' '))
    t.is(out.out.error.code, 'ERR_INVALID_ARG_VALUE', bad.join(' '))
  }
  t.regex(cli('frobnicate').stderr, /unknown command frobnicate \[ERR_INVALID_ARG_VALUE\]\nusage: mapshare/)
})
