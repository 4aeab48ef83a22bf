#!/usr/bin/env node
// `npx mapshare`: what `ipcs`/`ipcrm` and Python's resource tracker give, for the objects mapshare
// shares: list POSIX objects and System V segments (`ls`), decode a channel header or a lock word
// (`inspect`), remove by name, key or id (`rm`), and remove the names mapshare made whose creator
// died and that nobody maps (`gc`). `--json` on every command. Exit codes: 0 done, 1 the operation
// failed, 2 bad usage.
import { channelHeader } from './channel.ts'
import { coded } from './errors.ts'
import { posixObjects, processAlive, sysvSegments, type IpcObject } from './ipc-objects.ts'
import { decodeLockWord } from './lock-word.ts'
import type { Region } from './native.ts'
import { MmapFile, SharedMemory, ShmSegment } from './regions.ts'

const USAGE = `usage: mapshare <command> [--json]
  ls                          POSIX shared memory objects and System V segments
  inspect <target> [--offset N] [--lock]
                              the channel header at offset N (default 0), or with --lock the lock word there
  rm <target>...              remove POSIX names, or System V segments by key or id
  gc [--dry-run]              remove the names mapshare made whose creator is dead and that nobody maps
targets: a POSIX name (jobs or /jobs), key:<number> or id:<number> (System V), or a file path (containing /)`

interface Args {
  command: string
  targets: string[]
  json: boolean
  dryRun: boolean
  lock: boolean
  offset: number
}

class Usage extends Error {}

function parse(argv: string[]): Args {
  const args: Args = { command: '', targets: [], json: false, dryRun: false, lock: false, offset: 0 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--json') args.json = true
    else if (a === '--dry-run') args.dryRun = true
    else if (a === '--lock') args.lock = true
    else if (a === '--offset') {
      const n = Number(argv[++i])
      if (!Number.isSafeInteger(n) || n < 0) throw new Usage(`--offset needs a byte offset, not ${argv[i]}`)
      args.offset = n
    } else if (a === '--help' || a === '-h') args.command = 'help'
    else if (a.startsWith('-')) throw new Usage(`unknown option ${a}`)
    else if (args.command === '') args.command = a
    else args.targets.push(a)
  }
  return args
}

/** A System V key or id written as a number (decimal, or 0x hexadecimal). */
function number(text: string, what: string): number {
  const n = Number(text)
  if (text === '' || !Number.isSafeInteger(n)) throw new Usage(`${what} must be a number, not '${text}'`)
  return n
}

type Target =
  | { kind: 'posix'; name: string }
  | { kind: 'key'; key: number }
  | { kind: 'id'; id: number }
  | { kind: 'file'; path: string }

function target(text: string): Target {
  if (text.startsWith('key:')) return { kind: 'key', key: number(text.slice(4), 'a key') }
  if (text.startsWith('id:')) return { kind: 'id', id: number(text.slice(3), 'an id') }
  // A POSIX name has no slash but a leading one.
  if (text.slice(1).includes('/')) return { kind: 'file', path: text }
  return { kind: 'posix', name: text }
}

function open(t: Target): Region {
  switch (t.kind) {
    case 'posix':
      return SharedMemory.open(t.name, { readonly: true })
    case 'key':
      return ShmSegment.open(t.key, { readonly: true })
    case 'id':
      return ShmSegment.fromId(t.id, { readonly: true })
    case 'file':
      return MmapFile.open(t.path)
  }
}

function ls(): IpcObject[] {
  return [...posixObjects(), ...sysvSegments()]
}

function inspect(args: Args): object {
  if (args.targets.length !== 1) throw new Usage('inspect takes one target')
  const region = open(target(args.targets[0]!))
  try {
    const where = { target: args.targets[0], length: region.length, byteOffset: args.offset }
    if (args.lock) {
      if (args.offset % 4 !== 0 || args.offset + 4 > region.length)
        throw new Usage(
          `--offset ${args.offset}: a lock word is 4 bytes at a multiple of 4 inside the ${region.length} bytes`,
        )
      const lock = decodeLockWord(region.load(args.offset))
      return {
        ...where,
        lock: { ...lock, ownerAlive: lock.owner === null ? null : processAlive(lock.owner) },
      }
    }
    return { ...where, channel: channelHeader(region, args.offset) }
  } finally {
    region.close()
  }
}

function rm(args: Args): object {
  if (args.targets.length === 0) throw new Usage('rm needs a target')
  const removed: string[] = []
  for (const text of args.targets) {
    const t = target(text)
    if (t.kind === 'posix') SharedMemory.unlink(t.name)
    else if (t.kind === 'key' || t.kind === 'id') {
      const seg = t.kind === 'key' ? ShmSegment.open(t.key) : ShmSegment.fromId(t.id)
      seg.remove()
      seg.detach()
    } else throw new Usage(`rm removes shared memory objects, not files: ${text}`)
    removed.push(text)
  }
  return { removed }
}

function gc(args: Args): object {
  const dead = posixObjects().filter((o) => o.madeByMapshare && o.creatorAlive === false && o.attached === 0)
  const names = dead.map((o) => o.name!)
  if (!args.dryRun) for (const name of names) SharedMemory.unlink(name)
  return args.dryRun ? { wouldRemove: names } : { removed: names }
}

function table(objects: IpcObject[]): string {
  const rows = objects.map((o) => [
    o.kind,
    o.name ?? `key 0x${o.key!.toString(16).padStart(8, '0')} id ${o.id}`,
    String(o.size),
    o.mode.toString(8).padStart(4, '0'),
    o.user ?? String(o.uid),
    String(o.attached),
    o.creatorPid === null ? '-' : `${o.creatorPid} ${o.creatorAlive ? 'alive' : 'dead'}`,
    o.channel === null
      ? ''
      : `channel: ${o.channel.pending} pending of ${o.channel.capacity} bytes${o.channel.ended ? ', ended' : ''}`,
  ])
  const head = ['KIND', 'NAME', 'SIZE', 'MODE', 'OWNER', 'ATTACHED', 'CREATOR', 'CONTENT']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

function text(command: string, result: unknown): string {
  if (command === 'ls') return table(result as IpcObject[])
  return JSON.stringify(result, null, 2)
}

function main(argv: string[]): number {
  let args: Args = {
    command: '',
    targets: [],
    json: argv.includes('--json'),
    dryRun: false,
    lock: false,
    offset: 0,
  }
  try {
    args = parse(argv)
    const commands: Record<string, (a: Args) => unknown> = { ls, inspect, rm, gc }
    if (args.command === 'help') {
      console.log(USAGE)
      return 0
    }
    const run = commands[args.command]
    if (run === undefined)
      throw new Usage(args.command === '' ? 'no command' : `unknown command ${args.command}`)
    const result = run(args)
    console.log(args.json ? JSON.stringify(result) : text(args.command, result))
    return 0
  } catch (e) {
    const usage = e instanceof Usage
    const err = usage
      ? coded(Error, 'ERR_INVALID_ARG_VALUE', (e as Error).message)
      : (e as Error & { code?: string })
    const code = (err as { code?: string }).code ?? 'ERR_MAPSHARE_INTERNAL'
    if (args.json) console.error(JSON.stringify({ error: { code, message: err.message } }))
    else console.error(`mapshare: ${err.message} [${code}]${usage ? `\n${USAGE}` : ''}`)
    return usage ? 2 : 1
  }
}

process.exitCode = main(process.argv.slice(2))
