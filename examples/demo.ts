// `npm run demo`: two unrelated Node processes share one memory-mapped file. The writer maps it and
// writes a message into memory; the reader, started separately, maps the same file and prints it.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-demo-'))
const file = path.join(dir, 'shared.bin')
const node = (script: string, ...args: string[]) =>
  spawn(process.execPath, ['--import', '@oxc-node/core/register', path.join(here, script), ...args], {
    cwd: path.join(here, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  })

const writer = node('writer.ts', file, 'Hello from another process, through shared memory!')
writer.stdout!.setEncoding('utf8')
let out = ''
writer.stdout!.on('data', (chunk: string) => {
  out += chunk
  process.stdout.write(chunk.replace('ready\n', ''))
  if (!out.includes('ready')) return
  out = ''
  const reader = node('reader.ts', file)
  reader.stdout!.pipe(process.stdout)
  reader.on('close', (code) => {
    writer.stdin!.end()
    writer.on('close', () => {
      fs.rmSync(dir, { recursive: true, force: true })
      process.exitCode = code ?? 1
    })
  })
})
