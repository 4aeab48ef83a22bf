// Before tsc writes dist/: nothing left there from files that no longer exist in src-js/.
import fs from 'node:fs'

fs.rmSync(new URL('../../dist', import.meta.url), { recursive: true, force: true })
