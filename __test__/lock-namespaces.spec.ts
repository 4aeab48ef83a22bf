// The lock across PID namespaces (containers sharing /dev/shm): thread ids repeat and name other
// processes there, so owner death must come from the kernel's robust list and ownership from the
// owner's own list. Peers run in new PID namespaces (`unshare --pid --fork --mount-proc`, which
// needs root, as CI has), as Node processes and as C programs using include/mapshare_channel.h.
import test, { type ExecutionContext } from 'ava'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { MmapFile, pageSize } from '../src-js/index.ts'
import { peer } from './helpers/cc.ts'
import { fixture, LOADER, ROOT } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

const WORD = 76 // where a channel keeps its producers' lock: the C peer's word
const canUnshare =
  process.platform === 'linux' &&
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0
// Under CI a machine that cannot make namespaces fails here instead of skipping silently.
const nsTest = canUnshare || process.env.CI ? test.serial : test.skip
if (!canUnshare && process.platform === 'linux') {
  console.log('lock-namespaces: unshare --pid needs root (CAP_SYS_ADMIN): these tests are skipped')
}

type Kind = 'node' | 'c'

/** A lock user in a process of its own, in a new PID namespace or in ours, driven line by line. */
class Peer {
  readonly child: ChildProcess
  readonly tid: Promise<number>
  #lines: string[] = []
  #waiting: ((line: string) => void)[] = []
  readonly exited: Promise<NodeJS.Signals | number | null>

  constructor(kind: Kind, file: string, ns: boolean) {
    const cmd =
      kind === 'node'
        ? [process.execPath, ...LOADER, fixture('lock-peer.ts'), file, String(WORD)]
        : [peer('lock_peer'), file]
    // `; true` keeps sh as the namespace's first process (pid 1), so the peer is pid 2 and can be
    // killed from inside (a namespace's init ignores its own SIGKILL).
    const quoted = cmd.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
    this.child = ns
      ? spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', `${quoted}; true`], { cwd: ROOT })
      : spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT })
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve(signal ?? code)))
    let buf = ''
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        const w = this.#waiting.shift()
        if (w) w(line)
        else this.#lines.push(line)
      }
    })
    this.tid = this.#next().then((l) => Number(/^tid (\d+)$/.exec(l)?.[1] ?? NaN))
  }

  #next(): Promise<string> {
    const l = this.#lines.shift()
    if (l !== undefined) return Promise.resolve(l)
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve)
      this.child.once('close', () => reject(new Error('the peer exited')))
    })
  }

  /** Sends a command and returns its result ("ok", "null", JSON, "error <code>"). */
  async ask(cmd: string): Promise<string> {
    this.child.stdin!.write(`${cmd}\n`)
    const line = await this.#next()
    const name = cmd.split(' ')[0]!
    if (!line.startsWith(`${name} `)) throw new Error(`asked ${cmd}, got ${line}`)
    return line.slice(name.length + 1)
  }

  async die(): Promise<void> {
    this.child.stdin!.write('die\n')
    await this.exited
  }

  end(): void {
    this.child.kill('SIGKILL')
  }
}

function setup(t: ExecutionContext) {
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  const lock = region.mutex(WORD)
  const peers: Peer[] = []
  const make = (kind: Kind, ns: boolean) => {
    const p = new Peer(kind, file, ns)
    peers.push(p)
    return p
  }
  t.teardown(() => {
    peers.forEach((p) => p.end())
    region.close()
  })
  return { region, lock, make }
}

for (const kind of ['node', 'c'] as const) {
  nsTest(
    `${kind}: an owner in another PID namespace dies holding the lock: it is handed over with ownerDied`,
    async (t) => {
      const { region, lock, make } = setup(t)
      for (const waiting of [false, true]) {
        const holder = make(kind, true)
        const tid = await holder.tid
        t.is(tid, 2, 'the first process in its namespace after sh')
        // Its id names a live process here (pid 2, kthreadd): a kill(tid, 0) check would wait forever.
        t.true(fs.existsSync(`/proc/${tid}`))
        t.is(await holder.ask('lock'), '{"ownerDied":false}')
        t.is(region.load(WORD) & 0x3fffffff, tid)
        t.is(lock.tryLock(), null, 'held by the live holder')
        const pending = waiting ? lock.lockAsync({ timeout: 20_000 }) : null
        await holder.die()
        const got = pending ? await pending : lock.lock(20_000)
        t.deepEqual(got, { ownerDied: true }, waiting ? 'a waiter' : 'the next locker')
        lock.unlock()
        t.is(region.load(WORD), 0)
      }
    },
  )

  nsTest(`${kind}: a live owner in another PID namespace keeps its lock, both ways`, async (t) => {
    const { region, lock, make } = setup(t)
    const other = make(kind, true)
    await other.tid
    // It holds: this process can neither take the lock nor release it.
    t.is(await other.ask('lock'), '{"ownerDied":false}')
    t.is(lock.tryLock(), null)
    t.is(lock.lock(200), null)
    t.is(await lock.lockAsync({ timeout: 200 }), null)
    t.like(
      t.throws(() => lock.unlock()),
      { code: 'ERR_MAPSHARE_NOT_OWNER' },
    )
    t.is(await other.ask('unlock'), 'ok', "the holder's unlock still works")
    // This process holds: the other one can neither take it nor release it.
    t.deepEqual(lock.lock(), { ownerDied: false })
    t.is(await other.ask('trylock'), 'null')
    t.is(await other.ask('lockt 200'), 'null')
    t.is(await other.ask('unlock'), 'error ERR_MAPSHARE_NOT_OWNER')
    t.not(region.load(WORD) & 0x3fffffff, 0, 'still held here')
    const waiter = other.ask('lockt 20000')
    await new Promise((r) => setTimeout(r, 50))
    lock.unlock()
    t.is(await waiter, '{"ownerDied":false}', 'woken by the unlock across namespaces')
    t.is(await other.ask('unlock'), 'ok')
  })

  nsTest(
    `${kind}: the same thread id in two PID namespaces: neither takes nor releases the other's lock`,
    async (t) => {
      const { region, lock, make } = setup(t)
      const a = make(kind, true)
      const b = make('node', true)
      t.is(await a.tid, 2)
      t.is(await b.tid, 2, 'the same number')
      t.is(await a.ask('lock'), '{"ownerDied":false}')
      // b's id is in the word, but b does not hold the lock.
      t.is(await b.ask('trylock'), 'null', 'not EDEADLK')
      t.is(await b.ask('lockt 200'), 'null')
      t.is(await b.ask('unlock'), 'error ERR_MAPSHARE_NOT_OWNER')
      t.is(region.load(WORD) & 0x3fffffff, 2, "a's lock is untouched")
      t.is(await a.ask('unlock'), 'ok')
      t.is(await b.ask('lock'), '{"ownerDied":false}')
      t.is(await a.ask('trylock'), 'null')
      t.is(await a.ask('unlock'), 'error ERR_MAPSHARE_NOT_OWNER')
      await b.die()
      t.is(await a.ask('lockt 20000'), '{"ownerDied":true}', "b's death is seen from a's namespace")
      t.is(await a.ask('unlock'), 'ok')
      t.deepEqual(lock.lock(), { ownerDied: false })
      lock.unlock()
    },
  )
}

test("a word holding this thread's own id, written by a holder elsewhere, is not this thread's lock", (t) => {
  // What a process in another PID namespace with the same thread id leaves in the word.
  const region = MmapFile.anonymous(64, { shared: true })
  const lock = region.mutex(8)
  // This thread's id, as a lock word records it.
  const scratch = region.mutex(16)
  scratch.lock()
  const tid = region.load(16) & 0x3fffffff
  scratch.unlock()
  region.store(8, tid)
  t.is(lock.tryLock(), null, 'not EDEADLK: this thread does not hold it')
  t.is(lock.lock(30), null)
  const err = t.throws(() => lock.unlock()) as Error & { code?: string }
  t.is(err.code, 'ERR_MAPSHARE_NOT_OWNER')
  t.regex(err.message, /another process or PID namespace/)
  t.is(region.load(8) & 0x3fffffff, tid, 'left alone (a waiter set the waiters bit)')
  region.store(8, 0)
  t.deepEqual(lock.lock(), { ownerDied: false })
  t.like(
    t.throws(() => lock.lock()),
    { code: 'EDEADLK' },
  )
  lock.unlock()
  region.close()
})
