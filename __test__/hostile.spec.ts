import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { cases, makeFixture, table, type Fixture } from './hostile/cases.ts'
import { ROOT } from './helpers/spawn.ts'

let f: Fixture
test.before(async () => {
  f = await makeFixture()
})
test.after.always(() => f?.cleanup())

for (const c of cases) {
  test(`${c.input} -> ${c.result}`, (t) => {
    if (c.result === 'works') {
      t.notThrows(() => c.run(f))
      return
    }
    const err = t.throws(() => c.run(f)) as NodeJS.ErrnoException
    t.truthy(err.code, 'every error has a code')
    t.true(c.result.split(' or ').includes(err.code!), `got ${err.code}: ${err.message}`)
    t.true(err.message.length > 10, 'with a message')
    if (/^E[A-Z]+$/.test(err.code!)) {
      t.is(typeof err.errno, 'number')
      t.is(typeof err.syscall, 'string')
    }
  })
}

test('the README table is generated from these cases (npm run docs:hostile)', (t) => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('<!-- hostile:start -->')
  const end = readme.indexOf('<!-- hostile:end -->')
  t.true(start >= 0 && end > start, 'README has the hostile-input markers')
  t.is(readme.slice(start + '<!-- hostile:start -->'.length, end).trim(), table())
})

test('every function and method rejects an argument of the wrong type with ERR_INVALID_ARG_TYPE', async (t) => {
  const { MmapFile, SharedMemory, ShmSegment, ftok } = await import('../src-js/index.ts')
  const bad = Symbol('bad') as never
  const seg = ShmSegment.create('private', 64)
  t.teardown(() => {
    seg.remove()
    seg.detach()
  })
  const region = f.region
  const calls: Record<string, () => unknown> = {
    'MmapFile.open(path)': () => MmapFile.open(bad),
    'MmapFile.open(path, options)': () => MmapFile.open(f.file, bad),
    'MmapFile.fromFd(fd)': () => MmapFile.fromFd(bad),
    'MmapFile.anonymous(length)': () => MmapFile.anonymous(bad),
    'SharedMemory.create(name)': () => SharedMemory.create(bad, 1),
    'SharedMemory.create(name, size)': () => SharedMemory.create('n', bad),
    'SharedMemory.open(name)': () => SharedMemory.open(bad),
    'SharedMemory.unlink(name)': () => SharedMemory.unlink(bad),
    'SharedMemory.anonymous(size)': () => SharedMemory.anonymous(bad),
    'SharedMemory.fromFd(fd)': () => SharedMemory.fromFd(bad),
    'ShmSegment.create(key)': () => ShmSegment.create({} as never, 1),
    'ShmSegment.create(key, size)': () => ShmSegment.create('private', bad),
    'ShmSegment.open(key)': () => ShmSegment.open(bad),
    'ShmSegment.fromId(id)': () => ShmSegment.fromId(bad),
    'segment.setPermissions(p)': () => seg.setPermissions(bad),
    'ftok(path)': () => ftok(bad, 1),
    'ftok(path, id)': () => ftok(f.file, bad),
    'region.read(offset)': () => region.read(bad),
    'region.read(offset, length)': () => region.read(0, bad),
    'region.readInto(target)': () => region.readInto(bad),
    'region.readInto(target, offset)': () => region.readInto(Buffer.alloc(1), bad),
    'region.write(data)': () => region.write(bad),
    'region.write(data, offset)': () => region.write('x', bad),
    'region.flush(offset)': () => region.flush(bad),
    'region.advise(advice)': () => region.advise(bad),
    'region.lockMemory(offset)': () => region.lockMemory(bad),
    'region.unlockMemory(offset)': () => region.unlockMemory(bad),
    'region.residency(offset)': () => region.residency(bad),
    'region.resize(length)': () => region.resize(bad),
  }
  // Promise-returning calls reject (as Node's promise APIs do) instead of throwing.
  await t.throwsAsync(region.flushAsync(bad), { code: 'ERR_INVALID_ARG_TYPE' })
  await t.throwsAsync(region.waitAsync(bad, 0), { code: 'ERR_INVALID_ARG_TYPE' })
  await t.throwsAsync(region.mutex(0).lockAsync(bad), { code: 'ERR_INVALID_ARG_TYPE' })
  for (const [name, call] of Object.entries(calls)) {
    const err = t.throws(call, undefined, name) as NodeJS.ErrnoException
    t.true(
      err?.code === 'ERR_INVALID_ARG_TYPE' || err?.code === 'ERR_INVALID_ARG_VALUE',
      `${name}: ${err?.code} ${err?.message}`,
    )
  }
})
