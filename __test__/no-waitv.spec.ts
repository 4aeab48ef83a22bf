// The waits of kernels without futex_waitv (Linux < 5.16), run for real: a child process whose
// futex_waitv fails with ENOSYS (a seccomp filter, __test__/peers/no_futex_waitv.c) and whose
// io_uring path is off. Its blocking wait then sleeps in slices, its waitAsync calls are grouped on a
// thread per word, and this process wakes them.
import test from 'ava'
import { MmapFile, pageSize } from '../src-js/index.ts'
import { peer } from './helpers/cc.ts'
import { fixture, start } from './helpers/spawn.ts'
import { tmpFile } from './helpers/tmp.ts'

const x64Linux = process.platform === 'linux' && process.arch === 'x64'

/** Resolves with each `{ what, value }` line the child prints, by `what`. */
function lines(child: ReturnType<typeof start>['child']) {
  const seen = new Map<string, unknown>()
  const waiting = new Map<string, (v: unknown) => void>()
  let buf = ''
  child.stdout!.on('data', (d: Buffer | string) => {
    buf += d.toString()
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const { what, value } = JSON.parse(buf.slice(0, nl)) as { what: string; value: unknown }
      buf = buf.slice(nl + 1)
      seen.set(what, value)
      waiting.get(what)?.(value)
    }
  })
  let ended = ''
  child.on('close', (status, signal) => {
    ended = `the child ended (${status ?? signal})`
    for (const [what, r] of waiting) r(new Error(`${ended} before it printed '${what}'`))
  })
  return async (what: string): Promise<unknown> => {
    const value = seen.has(what)
      ? seen.get(what)
      : ended
        ? new Error(`${ended} before it printed '${what}'`)
        : await new Promise((r) => waiting.set(what, r))
    if (value instanceof Error) throw value
    return value
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('without futex_waitv: wait in slices, waitAsync on a thread per word and lockAsync, woken by another process', async (t) => {
  if (!x64Linux) return t.pass('the seccomp launcher is built and run by the x64 Linux suite')
  t.timeout(120_000)
  const file = tmpFile(t, Buffer.alloc(pageSize))
  const region = MmapFile.open(file, { flags: 'r+' })
  const lock = region.mutex(16)
  lock.lock()
  const launcher = peer('no_futex_waitv')
  const { child, done } = start(fixture('no-waitv.ts'), [file], {
    wrapper: [launcher],
    env: { MAPSHARE_NO_URING: '1' },
    timeout: 110_000,
  })
  child.stdin!.end()
  const next = lines(child)

  await next('sync-waiting')
  await sleep(100) // lets the child fall asleep (it is woken either way: the word changes)
  region.store(0, 1)
  region.notify(0)
  const sync = (await next('sync')) as { woken: string; ms: number }
  t.is(sync.woken, 'ok')
  t.true(sync.ms < 30_000, `woken after ${sync.ms} ms, long before its 60 s timeout`)
  const timeout = (await next('sync-timeout')) as { result: string; ms: number }
  t.is(timeout.result, 'timed-out')
  t.true(timeout.ms >= 140, `a 150 ms timeout took ${timeout.ms} ms`)
  t.is(await next('sync-not-equal'), 'not-equal')

  await next('async-waiting')
  await sleep(100)
  region.store(4, 1)
  region.notify(4)
  region.store(8, 1)
  region.notify(8)
  await next('lock-waiting')
  await sleep(100)
  lock.unlock()
  const async = (await next('async')) as Record<string, unknown>
  t.deepEqual(async.word4, ['ok', 'ok'])
  t.is(async.word8, 'ok')
  t.is((async.timedOut as { r: string }).r, 'timed-out')
  t.true((async.timedOut as { ms: number }).ms >= 140)
  t.is(async.aborted, 'AbortError:ABORT_ERR')
  t.is(async.local, 'ok', 'a local notify settles a grouped wait without the word changing')
  t.is(async.localCount, 1)
  t.deepEqual(await next('lock'), { ownerDied: false })
  const result = await done
  t.is(result.status, 0, result.stderr)
  region.close()
})
