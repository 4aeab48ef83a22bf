// `npm run docs:hostile`: writes the hostile-input table into the README between its markers.
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from '../helpers/spawn.ts'
import { table } from './cases.ts'

const file = path.join(ROOT, 'README.md')
const readme = fs.readFileSync(file, 'utf8')
const [start, end] = ['<!-- hostile:start -->', '<!-- hostile:end -->']
const a = readme.indexOf(start)
const b = readme.indexOf(end)
if (a < 0 || b < a) throw new Error('README.md lacks the hostile-input markers')
fs.writeFileSync(file, readme.slice(0, a + start.length) + '\n' + table() + '\n' + readme.slice(b))
console.log('README.md: hostile-input table updated')
