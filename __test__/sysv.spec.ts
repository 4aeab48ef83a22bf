import test, { type ExecutionContext } from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { ShmSegment, ftok } from '../src-js/index.ts'
import path from 'node:path'
import { runPeer } from './helpers/cc.ts'
import { ROOT, run } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

// Tests that use fixed keys run one at a time; every segment is removed in teardown, even on failure.
const SEED_KEY = 0x366378

function removeKey(key: number) {
  try {
    const seg = ShmSegment.open(key)
    seg.remove()
    seg.detach()
  } catch {}
}

function fresh(t: ExecutionContext, key: number) {
  removeKey(key)
  t.teardown(() => removeKey(key))
}

/** A key no other test uses: derived from this process and a counter. */
let counter = 0
function uniqueKey(t: ExecutionContext): number {
  const key = (0x4d530000 + ((process.pid & 0xff) << 8) + ++counter) >>> 0
  fresh(t, key)
  return key
}

/** nattch of the segment with `id` as `ipcs -m` prints it. */
function ipcsNattch(id: number): number | undefined {
  const out = execFileSync('ipcs', ['-m'], { encoding: 'utf8' })
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/)
    if (cols[1] === String(id)) return Number(cols[5])
  }
  return undefined
}

test('ftok agrees with C for the same file and project id', (t) => {
  const file = tmpFile(t, 'key file')
  for (const id of [1, 65, 200, 255]) {
    const c = runPeer('ftok', [file, String(id)]).trim()
    t.is('0x' + ftok(file, id).toString(16).padStart(8, '0'), c, `id ${id}`)
  }
  t.like(
    t.throws(() => ftok('/nonexistent/mapshare', 1)),
    { code: 'ENOENT', syscall: 'ftok' },
  )
  t.like(
    t.throws(() => ftok(file, 0)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  t.like(
    t.throws(() => ftok(file, 256)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
})

test.serial(
  "seed 002's walk-through: EEXIST on IPC_EXCL, nattch 1 -> 0 on detach, remove deletes it",
  (t) => {
    const key = uniqueKey(t)
    const seg = ShmSegment.create(key, 1028, { mode: 0o640 })
    t.like(
      t.throws(() => ShmSegment.create(key, 1028)),
      { code: 'EEXIST', syscall: 'shmget', errno: -17 },
    )
    const st = seg.stat()
    t.is(st.key, key)
    t.is(st.id, seg.id)
    t.is(st.size, 1028)
    t.is(st.mode & 0o777, 0o640)
    t.is(st.cpid, process.pid)
    t.is(st.nattch, 1)
    t.is(ipcsNattch(seg.id), 1)
    t.true(st.atime instanceof Date)
    t.is(st.dtime, null)
    t.true(st.ctime instanceof Date)
    t.is(seg.length, 1028)
    seg.buffer.write('gatieme')
    seg.detach()
    t.is(seg.stat().nattch, 0)
    t.is(ipcsNattch(seg.id), 0)
    t.true(seg.stat().dtime instanceof Date)
    const again = ShmSegment.open(key)
    t.is(again.read(0, 7).toString(), 'gatieme') // the segment outlived the detach
    again.detach()
    seg.remove()
    t.is(ipcsNattch(seg.id), undefined)
    t.like(
      t.throws(() => ShmSegment.open(key)),
      { code: 'ENOENT' },
    )
    t.like(
      t.throws(() => ShmSegment.fromId(seg.id)),
      { code: 'EINVAL' },
    ) // attaching a removed id
  },
)

test.serial('remove while attached: the segment lives on until the last detach, as in C', (t) => {
  const key = uniqueKey(t)
  const seg = ShmSegment.create(key, 4096)
  seg.write('still here')
  seg.remove()
  t.is(seg.read(0, 10).toString(), 'still here')
  t.true((seg.stat().mode & 0o1000) !== 0) // SHM_DEST
  t.like(
    t.throws(() => ShmSegment.open(key)),
    { code: 'ENOENT' },
  ) // the key is gone at once
  const id = seg.id
  seg.detach()
  t.like(
    t.throws(() => ShmSegment.fromId(id)),
    { code: 'EINVAL' },
  )
})

test.serial(
  'read-only attachment: buffer throws a clear error, read/readInto serve, write is refused',
  (t) => {
    const key = uniqueKey(t)
    const seg = ShmSegment.create(key, 4096)
    seg.write('readonly view')
    const ro = ShmSegment.open(key, { readonly: true })
    const err = t.throws(() => ro.buffer)!
    t.is((err as NodeJS.ErrnoException).code, 'ERR_MAPSHARE_NO_SAFE_VIEW')
    t.regex(err.message, /read\(\)/)
    t.is(ro.read(0, 13).toString(), 'readonly view')
    const target = Buffer.alloc(8)
    t.is(ro.readInto(target, 9), 8)
    t.is(target.toString('utf8', 0, 4), 'view')
    t.throws(() => ro.write('x'), { code: 'ERR_MAPSHARE_READ_ONLY' })
    ro.detach()
    seg.remove()
    seg.detach()
  },
)

test.serial("'private' keys, fromId, setPermissions and bad input", (t) => {
  const a = ShmSegment.create('private', 100)
  const b = ShmSegment.create('private', 100)
  t.teardown(() => {
    for (const s of [a, b]) {
      try {
        s.remove()
      } catch {}
    }
  })
  t.not(a.id, b.id)
  t.is(a.stat().key, 0)
  const same = ShmSegment.fromId(a.id)
  a.write('via id')
  t.is(same.read(0, 6).toString(), 'via id')
  same.detach()
  a.setPermissions({ mode: 0o644 })
  t.is(a.stat().mode & 0o777, 0o644)
  t.like(
    t.throws(() => ShmSegment.create('private', 0)),
    { code: 'EINVAL' },
  )
  // Above SHMMAX the kernel says EINVAL; where SHMMAX is unlimited (this machine: 2^64 - 2^24), a
  // 4 PiB segment cannot be allocated: ENOMEM. Either way a clear error, nothing created.
  const shmmax = Number(fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8'))
  if (shmmax < 2 ** 52) {
    t.like(
      t.throws(() => ShmSegment.create('private', shmmax + 1)),
      { code: 'EINVAL' },
    )
  } else {
    t.like(
      t.throws(() => ShmSegment.create('private', 2 ** 52)),
      { code: 'ENOMEM', syscall: 'shmget' },
    )
  }
  t.like(
    t.throws(() => ShmSegment.create(2 ** 32, 10)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  t.like(
    t.throws(() => ShmSegment.create('nope' as any, 10)),
    { code: 'ERR_INVALID_ARG_VALUE' },
  )
  t.like(
    t.throws(() => ShmSegment.open('private' as any)),
    { code: 'ERR_INVALID_ARG_VALUE' },
  )
  t.like(
    t.throws(() => ShmSegment.fromId(-1)),
    { code: 'ERR_OUT_OF_RANGE' },
  )
  a.detach()
  b.detach()
  t.throws(() => a.read(), { code: 'ERR_MAPSHARE_CLOSED' })
})

test.serial(
  'interop with C (seed 002): key 0x366378 written by C, read by Node, written by Node, read by C',
  (t) => {
    fresh(t, SEED_KEY)
    const out = runPeer('sysv_seed002', ['write', '0x366378', 'gatieme', '1'])
    const seg = ShmSegment.open(SEED_KEY)
    t.is(out.trim(), `id=${seg.id}`)
    t.is(seg.length, 1028)
    // struct st_setting { char agen[10]; unsigned char file_no; }
    const agen = seg.read(0, 10)
    t.is(agen.toString('latin1', 0, agen.indexOf(0)), 'gatieme')
    t.is(seg.read(10, 1)[0], 1)
    seg.buffer.fill(0, 0, 10)
    seg.buffer.write('nodejs', 0, 'latin1')
    seg.buffer[10] = 2
    t.is(runPeer('sysv_seed002', ['read', '0x366378']).trim(), 'agen=nodejs file_no=2 nattch=2')
    seg.remove()
    seg.detach()
  },
)

test.serial('examples/sysv-shm.ts: seed 002 walk-through at key 0x366378', async (t) => {
  fresh(t, SEED_KEY) // shares the seed's key with the C interop test: same file, serial
  const r = await run(path.join(ROOT, 'examples/sysv-shm.ts'))
  t.is(r.status, 0, r.stderr)
  t.is(
    r.stdout,
    'agen : gatieme\nfile_no : 1\nnattch while attached: 1\nnattch after detach: 0\nafter remove: ENOENT\n',
  )
})
