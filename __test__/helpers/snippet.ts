// Runs a short ES module in a fresh Node process, so that a crash (a signal), a hang (killed after
// the timeout) or an abort cannot take the test runner down: the test asserts how the child ended.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT, run, type RunResult } from './spawn.ts'

const INDEX = pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href

/**
 * Runs `body` as the rest of an ES module that starts with
 * `import * as mapshare from '<root>/dist/index.js'` (the built package) and `const { MmapFile, SharedMemory, ShmSegment } = mapshare`.
 * `gc()` is available. Top-level `await` works.
 */
export async function snippet(
  body: string,
  opts: {
    timeout?: number
    idleTimeout?: number
    env?: NodeJS.ProcessEnv
    nodeArgs?: string[]
    args?: string[]
  } = {},
): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-snippet-'))
  const file = path.join(dir, 'snippet.mjs')
  fs.writeFileSync(
    file,
    `import * as mapshare from ${JSON.stringify(INDEX)}\n` +
      `const { MmapFile, SharedMemory, ShmSegment, pageSize } = mapshare\n` +
      `const gc = globalThis.gc\n` +
      body,
  )
  try {
    return await run(file, opts.args ?? [], {
      timeout: opts.timeout ?? 30_000,
      ...(opts.idleTimeout === undefined ? {} : { idleTimeout: opts.idleTimeout }),
      env: opts.env,
      nodeArgs: ['--expose-gc', ...(opts.nodeArgs ?? [])],
      cwd: dir,
    })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** How a child ended, in one line for assertion messages. */
export function ended(r: RunResult): string {
  return `status ${r.status}, signal ${r.signal}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`
}
