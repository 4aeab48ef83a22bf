// Runs TypeScript files in fresh Node processes (real, unrelated processes) and collects what they did.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
// Absolute, so children started in any directory find the TypeScript loader. Under emulation
// (npm run test:arm64) the loader's native part does not exist for the target: Node's own type
// stripping runs the TypeScript there instead.
export const LOADER = process.env.MAPSHARE_STRIP_TYPES
  ? ['--experimental-strip-types', '--no-warnings']
  : ['--import', import.meta.resolve('@oxc-node/core/register')]

export interface RunResult {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface StartOptions {
  nodeArgs?: string[]
  env?: NodeJS.ProcessEnv
  timeout?: number
  cwd?: string
  /** A program (and its arguments) that runs node, e.g. a launcher that restricts system calls. */
  wrapper?: string[]
  /**
   * Long runs: the child is killed only after this many ms without any output, so that a loaded
   * machine makes it slower but never fails it, while a hang still ends (the child reports progress
   * on stderr). `timeout` then stays a generous cap on the whole run.
   */
  idleTimeout?: number
}

/** Starts `node <file> ...args` with the TypeScript loader; the child is killed after `timeout` ms. */
export function start(
  file: string,
  args: string[] = [],
  opts: StartOptions = {},
): { child: ChildProcess; done: Promise<RunResult> } {
  const argv = [process.execPath, ...LOADER, ...(opts.nodeArgs ?? []), file, ...args]
  const [program, ...rest] = [...(opts.wrapper ?? []), ...argv]
  const child = spawn(program, rest, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const idle = opts.idleTimeout
  let idler = idle === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), idle)
  const progressed = () => idler?.refresh()
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    progressed()
  })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    progressed()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 30_000)
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      clearTimeout(idler)
      idler = undefined
      resolve({ status, signal, stdout, stderr })
    })
  })
  return { child, done }
}

/** Runs a TypeScript file to completion. */
export function run(file: string, args: string[] = [], opts: StartOptions = {}): Promise<RunResult> {
  const { child, done } = start(file, args, opts)
  child.stdin!.end()
  return done
}

/** Resolves with the first stdout line of `child` that matches `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d: Buffer | string) => {
      buf += d.toString()
      for (const line of buf.split('\n')) {
        if (pattern.test(line)) {
          child.stdout!.off('data', onData)
          resolve(line)
          return
        }
      }
    }
    child.stdout!.on('data', onData)
    child.on('close', (code) => reject(new Error(`child exited (${code}) before printing ${pattern}`)))
  })
}

export function fixture(name: string): string {
  return path.join(ROOT, '__test__', 'fixtures', name)
}
