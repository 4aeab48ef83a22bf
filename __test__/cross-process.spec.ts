// wait, notify, waitAsync and the lock between two processes, through the API, on every platform
// where they exist: run by `npm test` on Linux and by `npm run test:windows` under Wine, where they
// go through mapshare's wait table and named kernel objects instead of futexes. Each wake is one
// the other process must have received: a lost one ends in a 20 s timeout, reported as such.
import test from 'ava'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MmapFile, SharedMemory, pageSize } from '../src-js/index.ts'
import { fixture, start, waitForLine } from './helpers/spawn.ts'

const peer = (where: string, action: string) =>
  start(fixture('sync-peer.ts'), [where, action], { timeout: 60_000 })

// macOS's notify wakes every waiter and reports 0 (README): there, notify until the waiter says it woke.
const counts = process.platform !== 'darwin'

/** Notifies until one waiter was woken (a notify before the other process slept counts 0) or the
 * child printed `woke`, for up to 20 s; returns the count of the last notify. */
async function notifyUntilWoken(
  r: { notify(offset: number, count: number): number },
  child: ReturnType<typeof peer>,
): Promise<number> {
  let said = ''
  child.child.stdout!.on('data', (d: Buffer | string) => (said += d.toString()))
  const deadline = Date.now() + 20_000
  let woke = 0
  while ((woke = r.notify(0, 1)) === 0 && !said.includes('woke') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 5))
  return woke
}

/** A named object and a file, each with the same region API. */
function regions(t: { teardown: (f: () => void) => void }, tag: string) {
  const name = `mapshare-xp-${tag}-${process.pid}`
  const shm = SharedMemory.create(name, pageSize, { unlinkOnClose: true })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapshare-xp-'))
  const file = path.join(dir, 'words.bin')
  const mapped = MmapFile.open(file, { flags: 'w+', size: pageSize })
  t.teardown(() => {
    shm.close()
    mapped.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return [
    { where: name, r: shm },
    { where: `file:${file}`, r: mapped },
  ]
}

for (const action of ['wait', 'waitAsync'] as const)
  test(`${action} in one process is woken by notify in another (named object and file)`, async (t) => {
    for (const { where, r } of regions(t, action)) {
      r.store(0, 0)
      const child = peer(where, action)
      await waitForLine(child.child, /waiting/)
      // Notify until the waiter counted: it was asleep in the kernel (or wait table) and is woken now.
      t.is(await notifyUntilWoken(r, child), counts ? 1 : 0, where)
      const out = await child.done
      t.is(out.stderr, '')
      t.regex(out.stdout, /woke ok/, where)
    }
  })

test('this process waits (waitAsync and wait) and another one notifies', async (t) => {
  const [{ where, r }] = regions(t, 'parent')
  r.store(0, 0)
  const pending = r.waitAsync(0, 0, { timeout: 20_000 })
  const notifier = peer(where, 'notify')
  t.is(await pending, 'ok')
  r.store(4, 1) // (macOS: the notifier cannot count its wake, and stops on this)
  t.regex((await notifier.done).stdout, counts ? /notified 1/ : /notified 0/)
  r.store(4, 0)
  // A blocking wait here while the other process notifies: it cannot print before we wake, so it
  // is started first and keeps notifying until one of its notifies wakes this thread.
  const second = peer(where, 'notify')
  t.is(r.wait(0, 0, 20_000), 'ok')
  r.store(4, 1)
  t.regex((await second.done).stdout, counts ? /notified 1/ : /notified 0/)
})

test('timeouts, a changed word and AbortSignal', async (t) => {
  const [{ r }] = regions(t, 'timeouts')
  r.store(0, 7)
  t.is(r.wait(0, 6, 1000), 'not-equal')
  t.is(await r.waitAsync(0, 6, { timeout: 1000 }), 'not-equal')
  const started = Date.now()
  t.is(r.wait(0, 7, 60), 'timed-out')
  t.true(Date.now() - started >= 55, 'a timed-out wait lasted its timeout')
  t.is(await r.waitAsync(0, 7, { timeout: 30 }), 'timed-out')
  const ac = new AbortController()
  const aborted = r.waitAsync(0, 7, { signal: ac.signal })
  ac.abort()
  await t.throwsAsync(aborted, { name: 'AbortError' })
  t.is(r.notify(0), 0, 'nobody waits any more')
})

test('the lock between processes: held blocks the other, unlock hands it over, a killed owner gives ownerDied', async (t) => {
  for (const { where, r } of regions(t, 'lock')) {
    const m = r.mutex(8)
    t.deepEqual(m.lock(), { ownerDied: false })
    r.write('done', 64)
    const contender = peer(where, 'contend')
    await waitForLine(contender.child, /blocking/)
    m.unlock()
    const out = await contender.done
    t.is(out.stderr, '')
    t.regex(out.stdout, /tryLock null/, 'tryLock on a held lock')
    t.regex(out.stdout, /lockAsync null/, 'lockAsync timed out on a held lock')
    t.regex(out.stdout, /lock \{"ownerDied":false\} done/, 'the blocked lock() got it at unlock')

    const holder = peer(where, 'hold')
    await waitForLine(holder.child, /locked/)
    t.is(m.tryLock(), null, 'held by the live child')
    holder.child.kill('SIGKILL')
    await holder.done
    t.deepEqual(m.lock(10_000), { ownerDied: true }, where)
    t.is(r.read(64, 4).toString(), 'half')
    m.unlock()
  }
})
