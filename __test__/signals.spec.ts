// Every promise settles whatever the caller's signal or options do, and a settled or refused call
// holds nothing: waitAsync, lockAsync and the channel's promise forms.
import test from 'ava'
import { getEventListeners, once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { Channel, MmapFile, SharedMemory } from '../src-js/index.ts'
import { ROOT } from './helpers/spawn.ts'
import { tmpDir } from './helpers/tmp.ts'

/** A real AbortSignal whose own members throw when anyone but its intrinsics reads them. */
function hostileSignal(): { controller: AbortController; signal: AbortSignal } {
  const controller = new AbortController()
  const signal = controller.signal
  for (const name of ['removeEventListener', 'addEventListener'])
    Object.defineProperty(signal, name, {
      value: () => {
        throw new Error(`own ${name} ran`)
      },
    })
  for (const name of ['reason', 'aborted'])
    Object.defineProperty(signal, name, {
      get: () => {
        throw new Error(`own ${name} getter ran`)
      },
    })
  return { controller, signal }
}

/** Objects that look like AbortSignals, each with a member that throws. */
const lookAlikes = (): unknown[] => [
  {
    aborted: false,
    addEventListener() {},
    removeEventListener() {
      throw new Error('remove')
    },
  },
  {
    get aborted(): boolean {
      throw new Error('aborted')
    },
    addEventListener() {},
    removeEventListener() {},
  },
  new Proxy(new AbortController().signal, {}),
  Object.create(AbortSignal.prototype),
]

const codeOf = (e: unknown): unknown => (e as { code?: unknown }).code

test('waitAsync: a look-alike signal is refused; a real one with hostile members still settles, and is let go', async (t) => {
  const r = MmapFile.anonymous(4096, { shared: true })
  for (const signal of lookAlikes())
    t.is(
      await r.waitAsync(0, 0, { timeout: 10, signal: signal as AbortSignal }).catch(codeOf),
      'ERR_INVALID_ARG_TYPE',
    )
  const { controller, signal } = hostileSignal()
  // Woken: resolves, and no listener is left on the caller's signal.
  const woken = r.waitAsync(0, 0, { signal })
  r.store(0, 1)
  r.notify(0)
  t.is(await woken, 'ok')
  t.is(getEventListeners(signal, 'abort').length, 0)
  // Aborted: rejects with an AbortError whose cause is the reason (read through the intrinsic getter).
  r.store(0, 0)
  const aborted = r.waitAsync(0, 0, { signal })
  controller.abort(new Error('stop'))
  const e = (await aborted.catch((x: unknown) => x)) as Error & { cause?: Error }
  t.is(e.name, 'AbortError')
  t.is(e.cause?.message, 'stop')
  // Already aborted: rejects at once.
  t.is(await r.waitAsync(0, 0, { signal }).catch(codeOf), 'ABORT_ERR')
  // Options whose getters throw: rejected with that error, nothing started.
  const thrower = {
    get timeout(): number {
      throw new Error('timeout getter')
    },
  }
  t.is(await r.waitAsync(0, 0, thrower).catch((x: Error) => x.message), 'timeout getter')
  // A bare timeout, as wait takes it; and wait takes { timeout } as waitAsync does.
  t.is(await r.waitAsync(0, 0, 5 as never), 'timed-out')
  t.is(r.wait(0, 0, { timeout: 5 } as never), 'timed-out')
  r.close()
})

/** A worker thread that holds the lock at offset 0 of `file` until told to let go. */
async function holder(file: string): Promise<{ release: () => Promise<void> }> {
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const { MmapFile } = require(workerData.entry)
     const r = MmapFile.open(workerData.file, { flags: 'r+' })
     const m = r.mutex(0)
     m.lock()
     parentPort.postMessage('locked')
     parentPort.once('message', () => { m.unlock(); r.close(); parentPort.postMessage('unlocked') })`,
    { eval: true, workerData: { file, entry: path.join(ROOT, 'dist', 'index.js') } },
  )
  await once(w, 'message')
  return {
    release: async () => {
      w.postMessage('go')
      await once(w, 'message')
      await w.terminate()
    },
  }
}

test('lockAsync: a refused or aborted call never leaves the lock taken', async (t) => {
  const file = path.join(tmpDir(t), 'lock.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const r = MmapFile.open(file, { flags: 'r+' })
  const m = r.mutex(0)
  const other = await holder(file)
  for (const signal of lookAlikes())
    t.is(await m.lockAsync({ signal: signal as AbortSignal }).catch(codeOf), 'ERR_INVALID_ARG_TYPE')
  const { controller, signal } = hostileSignal()
  const waiting = m.lockAsync({ signal })
  setTimeout(() => controller.abort(), 20)
  t.is(await waiting.catch(codeOf), 'ABORT_ERR')
  t.is(getEventListeners(signal, 'abort').length, 0)
  // A real signal with hostile members that never aborts: the lock is handed over normally.
  const patient = hostileSignal()
  const handedOver = m.lockAsync({ signal: patient.signal, timeout: 60_000 })
  await other.release()
  t.deepEqual(await handedOver, { ownerDied: false })
  t.is(getEventListeners(patient.signal, 'abort').length, 0)
  m.unlock()
  // Nothing else took the lock for the aborted or refused calls: it is free.
  t.deepEqual(m.tryLock(), { ownerDied: false })
  m.unlock()
  r.close()
})

test('the channel: look-alike signals are refused, hostile real ones still end the wait', async (t) => {
  const r = SharedMemory.anonymous(256 + 4096)
  const ch = Channel.create(r)
  for (const signal of lookAlikes()) {
    t.is(await ch.receiveAsync({ signal: signal as AbortSignal }).catch(codeOf), 'ERR_INVALID_ARG_TYPE')
    t.is(await ch.sendAsync('x', { signal: signal as AbortSignal }).catch(codeOf), 'ERR_INVALID_ARG_TYPE')
  }
  t.is(ch.tryReceive(), null, 'a refused sendAsync sent nothing')
  const { controller, signal } = hostileSignal()
  const waiting = ch.receiveAsync({ signal })
  setTimeout(() => controller.abort(), 20)
  t.is(await waiting.catch(codeOf), 'ABORT_ERR')
  t.is(getEventListeners(signal, 'abort').length, 0)
  const later = ch.receiveAsync({ signal: hostileSignal().signal, timeout: 60_000 })
  ch.trySend('after')
  t.is(String(await later), 'after')
  r.close()
})
