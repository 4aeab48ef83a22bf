// After `napi build`: the classes are made only by their factories (`new` throws
// ERR_ILLEGAL_CONSTRUCTOR), so their typings declare the constructor private and `new MmapFile()` is
// a type error too. napi-rs has no attribute for that; this rewrites the generated line.
import fs from 'node:fs'

const file = new URL('../index.d.ts', import.meta.url)
const text = fs.readFileSync(file, 'utf8')
const fixed = text.replace(/^ {2}constructor\(\)$/gm, '  private constructor()')
if (fixed !== text) fs.writeFileSync(file, fixed)
