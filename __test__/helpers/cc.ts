// Builds the C peers in __test__/peers with the machine's cc, once per test process.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ROOT } from './spawn.ts'

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-peers-'))
process.on('exit', () => fs.rmSync(outDir, { recursive: true, force: true }))
const built = new Map<string, string>()

/** Compiles __test__/peers/<name>.c (if not yet) and returns the executable's path. */
export function peer(name: string): string {
  let exe = built.get(name)
  if (!exe) {
    exe = path.join(outDir, name)
    const src = path.join(ROOT, '__test__', 'peers', `${name}.c`)
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', exe, src, '-lrt'], { stdio: 'pipe' })
    built.set(name, exe)
  }
  return exe
}

/** Runs a peer and returns its stdout (throws with its stderr if it fails). */
export function runPeer(name: string, args: string[]): string {
  return execFileSync(peer(name), args, { encoding: 'utf8', timeout: 30_000 })
}
