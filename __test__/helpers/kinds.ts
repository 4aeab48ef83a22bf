// Every kind of region, made the same way for tests that cover the shared region surface.
import type { ExecutionContext } from 'ava'
import { MmapFile, SharedMemory, ShmSegment } from '../../src-js/index.ts'
import { tmpFile } from './tmp.ts'

export type Region = MmapFile | SharedMemory | ShmSegment

/** True when the addon runs as under Electron's memory cage (no external Buffers). */
export const caged =
  !!process.env.MAPSHARE_NO_EXTERNAL_BUFFERS && process.env.MAPSHARE_NO_EXTERNAL_BUFFERS !== '0'

/**
 * Whether the cross-process Mutex works here. It needs the kernel's robust futex list, which qemu-user
 * (the arm64 run) does not emulate: there it is ERR_FEATURE_UNAVAILABLE_ON_PLATFORM. On Linux
 * anywhere else it must work: a refusal there fails every test that asks, rather than skipping it.
 */
export const lockAvailable: boolean = (() => {
  if (process.platform !== 'linux') return false
  const r = MmapFile.anonymous(4096, { shared: true })
  try {
    r.mutex(0)
    return true
  } catch (e) {
    const emulated = !!process.env.QEMU_LD_PREFIX
    if ((e as { code?: string }).code === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' && emulated) return false
    throw e
  } finally {
    r.close()
  }
})()

let seq = 0
export const kinds: Record<
  string,
  (t: ExecutionContext, size: number) => { region: Region; reopen: () => Region }
> = {
  'file (MmapFile)': (t, size) => {
    const file = tmpFile(t, Buffer.alloc(size))
    return {
      region: MmapFile.open(file, { flags: 'r+' }),
      reopen: () => MmapFile.open(file, { flags: 'r+' }),
    }
  },
  'anonymous shared (MmapFile)': (_t, size) => {
    const region = MmapFile.anonymous(size, { shared: true })
    return { region, reopen: () => region }
  },
  'POSIX shm (SharedMemory)': (t, size) => {
    const name = `mapshare-kind-${process.pid}-${++seq}`
    t.teardown(() => {
      try {
        SharedMemory.unlink(name)
      } catch {}
    })
    return { region: SharedMemory.create(name, size), reopen: () => SharedMemory.open(name) }
  },
  'memfd (SharedMemory.anonymous)': (_t, size) => {
    const region = SharedMemory.anonymous(size)
    return { region, reopen: () => SharedMemory.fromFd(region.fd) }
  },
  'System V (ShmSegment)': (t, size) => {
    const seg = ShmSegment.create('private', size)
    t.teardown(() => {
      try {
        seg.remove()
      } catch {}
    })
    return { region: seg, reopen: () => ShmSegment.fromId(seg.id) }
  },
}
