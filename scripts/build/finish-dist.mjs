// After tsc: the typings napi-rs generated from the Rust doc comments go beside the JS layers' own
// (dist/native.d.ts imports them), so that dist/index.d.ts is the whole public typing.
import fs from 'node:fs'

const from = new URL('../../src-js/binding/generated.d.ts', import.meta.url)
const to = new URL('../../dist/binding/', import.meta.url)
fs.mkdirSync(to, { recursive: true })
fs.copyFileSync(from, new URL('generated.d.ts', to))
