// The shared memory objects of this machine, for `npx mapshare`: POSIX objects (the files of /dev/shm)
// and System V segments (/proc/sysvipc/shm), with who maps them and, for the names mapshare makes
// (`SharedMemory.create(null)`: `/ms-<creator pid in hex>-<salt>`), whether their creator lives.
// Linux only: other systems have no listing of POSIX objects.
import fs from 'node:fs'
import { channelHeader, type ChannelHeader } from './channel.ts'
import { coded } from './errors.ts'
import { SharedMemory } from './regions.ts'

/** What `ls` reports of one object. */
export interface IpcObject {
  kind: 'posix' | 'sysv'
  /** The POSIX name (`'/jobs'`); null for a System V segment. */
  name: string | null
  /** The System V key (0 for `IPC_PRIVATE`) and id; null for a POSIX object. */
  key: number | null
  id: number | null
  /** The object's size in bytes. */
  size: number
  /** Permission bits. */
  mode: number
  uid: number
  /** The owner's user name, where /etc/passwd has it. */
  user: string | null
  /** Processes that map it: System V's `nattch`; for a POSIX object, the processes whose /proc/<pid>/maps this user can read. */
  attached: number
  /** The creating process: System V's `cpid`; for a POSIX object, the pid in a name mapshare made. */
  creatorPid: number | null
  /** Whether that process still runs (in this PID namespace); null when unknown. */
  creatorAlive: boolean | null
  /** Whether mapshare made the name (`SharedMemory.create(null)`): `gc` may remove those. */
  madeByMapshare: boolean
  /** A mapshare channel's header at offset 0, if one lives there (POSIX objects this user can read). */
  channel: ChannelHeader | null
}

/** The pid in a name `SharedMemory.create(null)` made (see crates/core/src/shm.rs `create_unique`). */
export function creatorOfName(name: string): number | null {
  const m = /^\/?ms-([0-9a-f]{1,8})-[0-9a-f]{8}$/.exec(name)
  return m === null ? null : parseInt(m[1]!, 16)
}

/** Whether `pid` names a live process here (a process we may not signal still lives). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'
  }
}

function linuxOnly(what: string): void {
  if (process.platform !== 'linux')
    throw coded(
      Error,
      'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
      `${what} reads /dev/shm and /proc (Linux); ${process.platform} has no listing of shared memory objects`,
    )
}

function users(): Map<number, string> {
  const names = new Map<number, string>()
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':')
      if (name && uid) names.set(Number(uid), name)
    }
  } catch {}
  return names
}

/** The processes mapping each /dev/shm file, from every /proc/<pid>/maps this user can read. */
function mappers(): Map<string, Set<number>> {
  const by = new Map<string, Set<number>>()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let maps: string
    try {
      maps = fs.readFileSync(`/proc/${entry}/maps`, 'utf8')
    } catch {
      continue // gone, or not ours to read
    }
    for (const line of maps.split('\n')) {
      const at = line.indexOf(' /dev/shm/')
      if (at < 0) continue
      const name = '/' + line.slice(at + ' /dev/shm/'.length).replace(/ \(deleted\)$/, '')
      let set = by.get(name)
      if (set === undefined) by.set(name, (set = new Set()))
      set.add(Number(entry))
    }
  }
  return by
}

function channelAt0(name: string): ChannelHeader | null {
  let shm: SharedMemory | null = null
  try {
    shm = SharedMemory.open(name, { readonly: true })
    return channelHeader(shm, 0)
  } catch {
    return null // unreadable to this user, or not a channel
  } finally {
    shm?.close()
  }
}

/** POSIX shared memory objects (the regular files of /dev/shm; semaphores `sem.*` left out). */
export function posixObjects(): IpcObject[] {
  linuxOnly('listing POSIX shared memory')
  const names = users()
  const mapped = mappers()
  const out: IpcObject[] = []
  for (const entry of fs.readdirSync('/dev/shm')) {
    if (entry.startsWith('sem.')) continue
    let st: fs.Stats
    try {
      st = fs.statSync(`/dev/shm/${entry}`)
    } catch {
      continue
    }
    if (!st.isFile()) continue
    const name = `/${entry}`
    const creatorPid = creatorOfName(name)
    out.push({
      kind: 'posix',
      name,
      key: null,
      id: null,
      size: st.size,
      mode: st.mode & 0o7777,
      uid: st.uid,
      user: names.get(st.uid) ?? null,
      attached: mapped.get(name)?.size ?? 0,
      creatorPid,
      creatorAlive: creatorPid === null ? null : processAlive(creatorPid),
      madeByMapshare: creatorPid !== null,
      channel: st.size > 0 ? channelAt0(name) : null,
    })
  }
  return out.sort((a, b) => (a.name! < b.name! ? -1 : 1))
}

/** System V segments, from /proc/sysvipc/shm (no attaching: listing changes nothing). */
export function sysvSegments(): IpcObject[] {
  linuxOnly('listing System V segments')
  const names = users()
  const [header, ...rows] = fs.readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n')
  const cols = header!.trim().split(/\s+/)
  const out: IpcObject[] = []
  for (const row of rows) {
    const v = row.trim().split(/\s+/)
    const at = (c: string) => v[cols.indexOf(c)] ?? ''
    const cpid = Number(at('cpid'))
    const uid = Number(at('uid'))
    out.push({
      kind: 'sysv',
      name: null,
      key: Number(at('key')) >>> 0,
      id: Number(at('shmid')),
      size: Number(at('size')),
      mode: parseInt(at('perms'), 8) & 0o777,
      uid,
      user: names.get(uid) ?? null,
      attached: Number(at('nattch')),
      creatorPid: cpid,
      creatorAlive: processAlive(cpid),
      madeByMapshare: false,
      channel: null,
    })
  }
  return out.sort((a, b) => a.id! - b.id!)
}
