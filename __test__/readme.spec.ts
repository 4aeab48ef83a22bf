// Every ```ts sample in the README runs, so the docs cannot rot.
import test from 'ava'
import { spawnSync } from 'node:child_process'
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

/** Whether this runtime parses `using` declarations (Node 24 does; 20 and 22 do not). */
const parsesUsing = (() => {
  try {
    new Function('{ using x = null }')
    return true
  } catch {
    return false
  }
})()

test('every README sample is also plain JavaScript (copied into an .mjs file, it parses)', (t) => {
  const dir = tmpDir(t)
  samples.forEach((code, i) => {
    const file = path.join(dir, `sample-${i + 1}.mjs`)
    // `using` is JavaScript from Node 24 on (the README says so): older runtimes check the rest.
    fs.writeFileSync(file, parsesUsing ? code : code.replace(/\busing (?=\w+ =)/g, 'const '))
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' })
    t.is(r.status, 0, `sample ${i + 1}: ${r.stderr}`)
  })
})
