import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT, run } from './helpers/spawn.ts'
import { tmpDir } from './helpers/tmp.ts'

test('examples/copy-file.ts copies a file through two mappings (seeds 000 §3, 004)', async (t) => {
  const dir = tmpDir(t)
  const source = path.join(dir, 'english.txt')
  const content = Buffer.alloc(3 * 4096 + 123)
  for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 256
  fs.writeFileSync(source, content)
  const destination = path.join(dir, 'copy.txt')
  const r = await run(path.join(ROOT, 'examples/copy-file.ts'), [source, destination])
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), `copied ${content.length} bytes from ${source} to ${destination}`)
  t.true(fs.readFileSync(destination).equals(content))
})

test('examples/demo.ts: the reader process prints what the writer process wrote', async (t) => {
  const r = await run(path.join(ROOT, 'examples/demo.ts'))
  t.is(r.status, 0, r.stderr)
  const wrote = /writer (\d+): wrote "(.*)" into/.exec(r.stdout)
  const read = /reader (\d+): read "(.*)" from/.exec(r.stdout)
  t.truthy(wrote, r.stdout)
  t.truthy(read, r.stdout)
  t.not(wrote![1], read![1]) // two different processes
  t.is(read![2], wrote![2])
})

test('examples/posix-shm.ts: seed 003 writer and reader processes over a 4 GB object', async (t) => {
  const r = await run(path.join(ROOT, 'examples/posix-shm.ts'))
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /writer: 4000000000 bytes mapped, wrote \{100 876 8021\}/)
  t.regex(r.stdout, /reader: \{100 876 8021\}/)
  t.false(fs.existsSync('/dev/shm/my_shm'))
})

test('examples/memfd-child.ts: parent and child share anonymous memory through a descriptor', async (t) => {
  const r = await run(path.join(ROOT, 'examples/memfd-child.ts'))
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout, 'child read: hello, world\nparent read: nihao a, parent!\n')
})
