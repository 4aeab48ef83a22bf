// Temporary files for tests, removed when the test ends.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ExecutionContext } from 'ava'

/** A fresh directory, deleted after the test. */
export function tmpDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A file with `content` in a fresh directory. */
export function tmpFile(t: ExecutionContext, content: string | Buffer, name = 'data.bin'): string {
  const file = path.join(tmpDir(t), name)
  fs.writeFileSync(file, content)
  return file
}

/** Counts this process's mappings of `file` (lines of /proc/self/maps naming it). */
export function mappingCount(file: string): number {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(' ' + file)).length
}

/** Counts open file descriptors of this process. */
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length
}
