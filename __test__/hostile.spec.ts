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
