// Every ```ts sample in the README runs, so the docs cannot rot.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT, run } from './helpers/spawn.ts'
import { tmpDir } from './helpers/tmp.ts'

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
const entry = path.join(ROOT, 'dist', 'index.js')

test('the README has code samples', (t) => {
  t.true(samples.length >= 4, `${samples.length} samples`)
})

samples.forEach((code, i) => {
  const title =
    code
      .split('\n')
      .find((l) => l.startsWith('import {'))
      ?.slice(0, 60) ?? `sample ${i + 1}`
  test.serial(`README sample ${i + 1} runs (${title})`, async (t) => {
    const dir = tmpDir(t)
    const file = path.join(dir, `sample-${i + 1}.ts`)
    fs.writeFileSync(
      file,
      code
        .replaceAll("'mapshare'", JSON.stringify(entry))
        .replaceAll("require('mapshare')", `require(${JSON.stringify(entry)})`),
    )
    const r = await run(file, [], { cwd: dir })
    t.is(r.status, 0, r.stderr)
    t.is(r.signal, null)
    // `console.log(x) // 'value'` in a sample promises what it prints: hold it to that.
    const promised = [...code.matchAll(/console\.log\(.*\) \/\/ '?([^'\n]*?)'?$/gm)].map((m) => m[1])
    t.deepEqual(r.stdout.trim().split('\n').filter(Boolean), promised)
  })
})
