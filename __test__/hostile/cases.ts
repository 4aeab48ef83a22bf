// Hostile input and misuse: every case, what the user gets. The README's table is generated from
// this list (`npm run docs:hostile`) and hostile.spec.ts checks both the behaviour and the table.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { MmapFile, SharedMemory, ShmSegment, pageSize } from '../../src-js/index.ts'

export interface Fixture {
  dir: string
  file: string // 8 KiB
  empty: string
  fifo: string
  socket: string
  roFd: number
  closedFd: number
  region: MmapFile // over `file`, read-write
  closed: MmapFile
  shmName: string
  removedSegmentId: number
  segmentKey: number
  cleanup: () => void
}

export interface Case {
  /** The input, as the README shows it. */
  input: string
  /** What the user gets: an error code, or 'works'. */
  result: string
  run: (f: Fixture) => unknown
}

export async function makeFixture(): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-hostile-'))
  const file = path.join(dir, 'data.bin')
  fs.writeFileSync(file, Buffer.alloc(2 * pageSize, 1))
  const empty = path.join(dir, 'empty')
  fs.writeFileSync(empty, '')
  const fifo = path.join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  const socket = path.join(dir, 'socket')
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  const roFd = fs.openSync(file, 'r')
  const closedFd = fs.openSync(file, 'r')
  fs.closeSync(closedFd)
  const region = MmapFile.open(file, { flags: 'r+' })
  const closed = MmapFile.open(file)
  closed.close()
  const shmName = `mapshare-hostile-${process.pid}`
  SharedMemory.create(shmName, pageSize, { exclusive: false }).close()
  const removed = ShmSegment.create('private', 64)
  removed.remove()
  removed.detach()
  const segmentKey = (0x4d580000 + (process.pid & 0xffff)) >>> 0
  ShmSegment.create(segmentKey, 64, { exclusive: false }).detach()
  return {
    dir,
    file,
    empty,
    fifo,
    socket,
    roFd,
    closedFd,
    region,
    closed,
    shmName,
    removedSegmentId: removed.id,
    segmentKey,
    cleanup() {
      region.close()
      fs.closeSync(roFd)
      server.close()
      try {
        SharedMemory.unlink(shmName)
      } catch {}
      try {
        const s = ShmSegment.open(segmentKey)
        s.remove()
        s.detach()
      } catch {}
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

const open = (p: string, o?: object) => MmapFile.open(p, o as never).close()

export const cases: Case[] = [
  {
    input: '`MmapFile.open(file, { offset: -1 })`',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => open(f.file, { offset: -1 }),
  },
  {
    input: '`MmapFile.open(file, { offset: 1.5 })`',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => open(f.file, { offset: 1.5 }),
  },
  {
    input: '`MmapFile.open(file, { offset: NaN })`',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => open(f.file, { offset: NaN }),
  },
  {
    input: '`MmapFile.open(file, { offset: 2 ** 53 })`',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => open(f.file, { offset: 2 ** 53 }),
  },
  {
    input: '`MmapFile.open(file, { offset: 4097 })` (unaligned)',
    result: 'works',
    run: (f) => open(f.file, { offset: 4097 }),
  },
  {
    input: 'offset at or past the end of the file',
    result: 'EINVAL',
    run: (f) => open(f.file, { offset: 2 * pageSize }),
  },
  { input: '`{ length: 0 }`', result: 'EINVAL', run: (f) => open(f.file, { length: 0 }) },
  {
    input: 'length past the end of the file',
    result: 'EINVAL',
    run: (f) => open(f.file, { length: 2 * pageSize + 1 }),
  },
  {
    input: '`{ length: 2 ** 53 - 1 }` (beyond the address space)',
    result: 'EINVAL',
    run: (f) => open(f.file, { length: 2 ** 53 - 1 }),
  },
  {
    input: '`{ size: NaN }` / `{ size: -1 }`',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => open(f.file, { flags: 'r+', size: NaN }),
  },
  {
    input: "`{ flags: 'w+' }` without `size`",
    result: 'ERR_INVALID_ARG_VALUE',
    run: (f) => open(f.file, { flags: 'w+' }),
  },
  { input: 'an empty file without `size`', result: 'EINVAL', run: (f) => open(f.empty) },
  { input: 'a directory', result: 'EISDIR', run: (f) => open(f.dir) },
  { input: '`/dev/null`', result: 'EINVAL', run: () => open('/dev/null') },
  { input: '`/dev/null` with a length', result: 'ENODEV', run: () => open('/dev/null', { length: 10 }) },
  { input: 'a FIFO (never blocks waiting for a writer)', result: 'ENODEV', run: (f) => open(f.fifo) },
  { input: 'a Unix socket', result: 'ENXIO', run: (f) => open(f.socket) },
  { input: 'a missing file', result: 'ENOENT', run: (f) => open(path.join(f.dir, 'missing')) },
  { input: 'a path with a NUL byte', result: 'ERR_INVALID_ARG_VALUE', run: (f) => open(f.file + '\0x') },
  { input: 'a path that is not a string', result: 'ERR_INVALID_ARG_TYPE', run: () => open(42 as never) },
  { input: 'an unknown `flags`', result: 'ERR_INVALID_ARG_VALUE', run: (f) => open(f.file, { flags: 'rw' }) },
  {
    input: 'options that are not an object',
    result: 'ERR_INVALID_ARG_TYPE',
    run: (f) => MmapFile.open(f.file, 5 as never),
  },
  {
    input: 'option of the wrong type (`{ private: 1 }`)',
    result: 'ERR_INVALID_ARG_TYPE',
    run: (f) => open(f.file, { private: 1 }),
  },
  {
    input: 'read-only descriptor with `fromFd(fd, { writable: true })`',
    result: 'EACCES',
    run: (f) => MmapFile.fromFd(f.roFd, { writable: true }),
  },
  { input: 'a closed descriptor', result: 'EBADF', run: (f) => MmapFile.fromFd(f.closedFd) },
  { input: '`fromFd(-1)` / `fromFd(1.5)`', result: 'ERR_OUT_OF_RANGE', run: () => MmapFile.fromFd(-1) },
  { input: "`fromFd('3')`", result: 'ERR_INVALID_ARG_TYPE', run: () => MmapFile.fromFd('3' as never) },
  { input: '`MmapFile.anonymous(0)`', result: 'EINVAL', run: () => MmapFile.anonymous(0) },
  {
    input: '`MmapFile.anonymous(2 ** 52)` (more than the machine has)',
    result: 'ENOMEM',
    run: () => MmapFile.anonymous(2 ** 52),
  },
  {
    input: "`SharedMemory.create('', n)` / `('/', n)`",
    result: 'EINVAL',
    run: () => SharedMemory.create('', 10),
  },
  { input: 'a POSIX name with `/` inside', result: 'EINVAL', run: () => SharedMemory.create('a/b', 10) },
  {
    input: 'a POSIX name over 255 bytes (30 on macOS)',
    result: 'ENAMETOOLONG',
    run: () => SharedMemory.create('x'.repeat(256), 10),
  },
  {
    input: '`SharedMemory.create` of an existing name (exclusive)',
    result: 'EEXIST',
    run: (f) => SharedMemory.create(f.shmName, 10),
  },
  {
    input: '`SharedMemory.open` of a missing name',
    result: 'ENOENT',
    run: () => SharedMemory.open('mapshare-never-created'),
  },
  {
    input: 'SysV key `2 ** 32` or below `-(2 ** 31)`',
    result: 'ERR_OUT_OF_RANGE',
    run: () => ShmSegment.create(2 ** 32, 10),
  },
  {
    input: "SysV key `'abc'`",
    result: 'ERR_INVALID_ARG_VALUE',
    run: () => ShmSegment.create('abc' as never, 10),
  },
  {
    input: 'SysV size above SHMMAX (or more memory than exists)',
    result: 'EINVAL or ENOMEM',
    run: () => ShmSegment.create('private', 2 ** 52),
  },
  {
    input: '`IPC_EXCL` on an existing key',
    result: 'EEXIST',
    run: (f) => ShmSegment.create(f.segmentKey, 64),
  },
  {
    input: 'attaching a removed segment id',
    result: 'EINVAL',
    run: (f) => ShmSegment.fromId(f.removedSegmentId),
  },
  { input: '`ShmSegment.open` of a missing key', result: 'ENOENT', run: () => ShmSegment.open(0x7ffffff1) },
  {
    input: '`region.read(-1)`, `read(0, length + 1)`',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => f.region.read(0, 2 * pageSize + 1),
  },
  { input: "`region.read('0')`", result: 'ERR_INVALID_ARG_TYPE', run: (f) => f.region.read('0' as never) },
  {
    input: '`region.write(data, offset)` that does not fit',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => f.region.write('xy', 2 * pageSize - 1),
  },
  { input: '`region.write(123)`', result: 'ERR_INVALID_ARG_TYPE', run: (f) => f.region.write(123 as never) },
  {
    input: "`region.readInto('x')`",
    result: 'ERR_INVALID_ARG_TYPE',
    run: (f) => f.region.readInto('x' as never),
  },
  {
    input: '`region.flush(offset, length)` outside the region',
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => f.region.flush(pageSize, 2 * pageSize),
  },
  {
    input: "`region.advise('often')`",
    result: 'ERR_INVALID_ARG_VALUE',
    run: (f) => f.region.advise('often' as never),
  },
  {
    input: "`region.advise('normal', offset, length)` outside the region",
    result: 'ERR_OUT_OF_RANGE',
    run: (f) => f.region.advise('normal', 0, 3 * pageSize),
  },
  { input: '`region.resize(NaN)`', result: 'ERR_OUT_OF_RANGE', run: (f) => f.region.resize(NaN) },
  { input: 'any method after `close()`', result: 'ERR_MAPSHARE_CLOSED', run: (f) => f.closed.read() },
  { input: '`buffer` after `close()`', result: 'ERR_MAPSHARE_CLOSED', run: (f) => f.closed.buffer },
  { input: '`close()` twice', result: 'works', run: (f) => f.closed.close() },
]

/** The README table for `cases`. */
export function table(): string {
  const rows = cases.map(
    (c) =>
      `| ${c.input} | ${c.result.includes(' ') || c.result === 'works' ? c.result : '`' + c.result + '`'} |`,
  )
  return ['| input | what you get |', '|---|---|', ...rows].join('\n')
}
