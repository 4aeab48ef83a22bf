// The message channel: between processes (Node and C), one or many producers, kills mid-message,
// backpressure, corrupt memory, on every region kind and without views (npm run test:caged).
import test from 'ava'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { Channel, MmapFile, SharedMemory } from '../src-js/index.ts'
import { caged, kinds } from './helpers/kinds.ts'
import { errorCode as code } from './helpers/errors.ts'
import { snippet } from './helpers/snippet.ts'
import { ROOT } from './helpers/spawn.ts'
import { tmpDir, tmpFile } from './helpers/tmp.ts'

/** Message i of a test stream: its size varies (wrapping the ring at every offset), its bytes say i. */
function message(i: number, max: number): Buffer {
  const b = Buffer.alloc((i * 97) % Math.min(max, 3000))
  for (let k = 0; k < b.length; k++) b[k] = (i + k) & 255
  return Buffer.concat([Buffer.from(`${i}:`), b])
}

for (const [kind, make] of Object.entries(kinds)) {
  test(`messages of every size arrive whole and in order through ${kind}`, async (t) => {
    const { region, reopen } = make(t, 256 + 8192)
    const tx = Channel.create(region)
    const rx = Channel.open(reopen())
    t.is(tx.capacity, 8192)
    let sent = 0
    let received = 0
    while (received < 600) {
      while (sent < 600 && tx.trySend(message(sent, tx.maxMessageSize))) sent++
      for (let m = rx.tryReceive(); m !== null; m = rx.tryReceive()) {
        t.true(m.equals(message(received, tx.maxMessageSize)), `message ${received}`)
        received++
      }
    }
    t.like(rx.stats(), { sent: 600, received: 600, pending: 0, used: 0 })
  })
}

/** Looks at `cond` every few ms until it holds (true) or 20 s passed (false): a wait for a state the
 * other side sets, not a fixed sleep. */
async function until(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 4000; i++) {
    if (cond()) return true
    await new Promise((w) => setTimeout(w, 5))
  }
  return cond()
}

test('one producer process, one consumer process: 20,000 messages through the async iterator', async (t) => {
  const name = `/mapshare-ch-${process.pid}`
  const shm = SharedMemory.create(name, 256 + 16384)
  t.teardown(() => SharedMemory.unlink(name))
  const ch = Channel.create(shm)
  const child = snippet(
    `
    const ch = mapshare.Channel.open(SharedMemory.open(process.argv[2]))
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.alloc((i * 97) % 3000)
      for (let k = 0; k < b.length; k++) b[k] = (i + k) & 255
      await ch.sendAsync(Buffer.concat([Buffer.from(i + ':'), b]))
    }
    ch.end()
  `,
    { args: [name], timeout: 60_000 },
  )
  let n = 0
  let bad = 0
  for await (const m of ch) {
    if (!m.equals(message(n, 1e9))) bad++
    n++
  }
  const r = await child
  t.is(r.status, 0, r.stderr)
  t.is(n, 20_000)
  t.is(bad, 0)
  t.like(ch.stats(), { sent: 20_000, received: 20_000, ended: true })
})

test('many producer processes: every message arrives once, each producer in its order', async (t) => {
  if (process.platform !== 'linux') return t.pass('many producers need the robust lock (Linux)')
  const file = tmpFile(t, Buffer.alloc(256 + 4096))
  const ch = Channel.create(MmapFile.open(file, { flags: 'r+' }), { producers: 'many' })
  const body = `
    const ch = mapshare.Channel.open(MmapFile.open(process.argv[2], { flags: 'r+' }))
    for (let i = 0; i < 3000; i++) await ch.sendAsync(process.argv[3] + ' ' + i + ' ' + 'x'.repeat(i % 200))`
  const kids = [0, 1, 2, 3].map((p) => snippet(body, { args: [file, String(p)], timeout: 60_000 }))
  const next = [0, 0, 0, 0]
  let wrong = 0
  let total = 0
  while (total < 12_000) {
    const m = await ch.receiveAsync({ timeout: 30_000 })
    if (m === null) break
    const [p, i] = String(m).split(' ').map(Number)
    if (next[p] !== i) wrong++
    next[p] = i + 1
    total++
  }
  for (const r of await Promise.all(kids)) t.is(r.status, 0, r.stderr)
  t.is(total, 12_000)
  t.is(wrong, 0)
  t.deepEqual(next, [3000, 3000, 3000, 3000])
})

test('a producer killed mid-message leaves nothing half-written; the next producer goes on', async (t) => {
  for (const producers of process.platform === 'linux' ? ['single', 'many'] : ['single']) {
    const file = tmpFile(t, Buffer.alloc(256 + 4096))
    const ch = Channel.create(MmapFile.open(file, { flags: 'r+' }), { producers: producers as 'single' })
    // Sends 3 messages, reserves a 4th, writes half of it, and dies (holding the lock with many producers).
    const r = await snippet(
      `
      const ch = mapshare.Channel.open(MmapFile.open(process.argv[2], { flags: 'r+' }))
      for (let i = 0; i < 3; i++) ch.trySend('whole ' + i)
      const res = ch.tryReserve(1000)
      res.buffer.fill(0x41, 0, 500)
      process.kill(process.pid, 'SIGKILL')
    `,
      { args: [file] },
    )
    t.is(r.signal, 'SIGKILL')
    const got: string[] = []
    for (let m = ch.tryReceive(); m !== null; m = ch.tryReceive()) got.push(String(m))
    t.deepEqual(got, ['whole 0', 'whole 1', 'whole 2'], producers)
    const next = await snippet(
      `
      const ch = mapshare.Channel.open(MmapFile.open(process.argv[2], { flags: 'r+' }))
      console.log(ch.send('after the kill', { timeout: 5000 }))
    `,
      { args: [file] },
    )
    t.is(next.stdout.trim(), 'true', next.stderr)
    t.is(String(ch.tryReceive()), 'after the kill')
    t.is(ch.tryReceive(), null)
  }
})

test('a consumer killed before release() leaves the message to be read again, by the next consumer', async (t) => {
  const file = tmpFile(t, Buffer.alloc(256 + 4096))
  const ch = Channel.create(MmapFile.open(file, { flags: 'r+' }))
  ch.trySend('first')
  ch.trySend('second')
  // The consumer reads 'first' in place, prints it, and dies before it releases it.
  const r = await snippet(
    `
    const ch = mapshare.Channel.open(MmapFile.open(process.argv[2], { flags: 'r+' }))
    console.log(String(ch.tryPeek()))
    process.kill(process.pid, 'SIGKILL')
  `,
    { args: [file] },
  )
  t.is(r.signal, 'SIGKILL')
  t.is(r.stdout.trim(), 'first', r.stderr)
  t.is(ch.stats().pending, 2, 'the peeked message is still in the channel')
  // The next consumer, in another process, gets it again, then the one after it.
  const next = await snippet(
    `
    const ch = mapshare.Channel.open(MmapFile.open(process.argv[2], { flags: 'r+' }))
    console.log(String(ch.tryReceive()) + ',' + String(ch.tryReceive()) + ',' + ch.tryReceive())
  `,
    { args: [file] },
  )
  t.is(next.stdout.trim(), 'first,second,null', next.stderr)
  t.is(ch.stats().pending, 0)
})

/** Builds the C peer in `dir`, as strict C11 (the header must compile without feature macros). */
function channelPeer(dir: string): string {
  const exe = path.join(dir, 'channel_peer')
  const src = path.join(ROOT, '__test__/peers/channel_peer.c')
  execFileSync('cc', ['-std=c11', '-O2', '-Wall', '-Werror', '-o', exe, src], { stdio: 'pipe' })
  return exe
}

test('a C program sends to Node and receives from Node through include/mapshare_channel.h', async (t) => {
  const dir = tmpDir(t)
  const exe = channelPeer(dir)
  const file = path.join(dir, 'ch.bin')
  fs.writeFileSync(file, Buffer.alloc(256 + 4096))
  const region = MmapFile.open(file, { flags: 'r+' })
  let ch = Channel.create(region)
  const sender = spawn(exe, ['send', file, '10000'], { stdio: 'inherit' })
  // Listened to at once: under load the sender can be gone before the last message is read here.
  const senderClosed = new Promise((r) => sender.on('close', r))
  let n = 0
  let wrong = 0
  for await (const m of ch) {
    const want = n % 100 === 99 ? '' : `c ${n}` // every 100th message is empty
    n++
    if (String(m) !== want) wrong++
  }
  t.is(n, 10_000)
  t.is(wrong, 0)
  t.is(await senderClosed, 0)
  ch = Channel.create(region)
  const receiver = spawn(exe, ['receive', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const receiverClosed = new Promise((r) => receiver.on('close', r))
  let out = ''
  receiver.stdout.on('data', (d) => (out += d))
  // Empty messages too: the C consumer must tell them from "no message".
  for (let i = 0; i < 5000; i++) await ch.sendAsync(i % 10 === 9 ? '' : `node ${i}`)
  ch.end()
  const status = await receiverClosed
  t.is(status, 0)
  const lines = out.trim().split('\n')
  t.is(lines.length, 5000)
  t.true(lines.every((l, i) => l === (i % 10 === 9 ? '<empty>' : `node ${i}`)))
  // An ended channel: C's producer refuses as Node's does.
  ch = Channel.create(region)
  ch.end()
  const ended = spawnSync(exe, ['send-ended', file], { encoding: 'utf8', timeout: 10_000 })
  t.is(ended.stdout.trim(), '-5 -5', ended.stderr)
  t.is(ch.tryReceive(), null)
  // A header that claims more capacity than the file holds: the C side refuses it at msch_open
  // (it would read past its mapping).
  Channel.create(region)
  region.store(8, 1 << 20)
  const refused = spawnSync(exe, ['receive', file], { encoding: 'utf8', timeout: 10_000 })
  t.is(refused.status, 1, refused.stderr)
  t.regex(refused.stderr, /not a channel/)
  region.close()
})

test("copies share slabs (as Node pools its Buffers) but never each other's bytes", (t) => {
  const region = MmapFile.anonymous(1 << 20, { shared: true })
  const ch = Channel.create(region)
  const got: Buffer[] = []
  // Sizes that straddle slab ends (128 KiB each) and the 16 KiB limit above which a copy is its own.
  const sizes = Array.from({ length: 120 }, (_, i) => [1, 7, 4096, 5000, 16_384, 16_385, 40_000][i % 7])
  for (const [i, size] of sizes.entries()) {
    t.true(ch.trySend(Buffer.alloc(size, i + 1)))
    got.push(ch.tryReceive()!)
  }
  for (const [i, m] of got.entries()) {
    t.is(m.length, sizes[i])
    t.true(
      m.every((b) => b === ((i + 1) & 255)),
      `message ${i} kept its bytes`,
    )
    t.true(m.byteOffset % 8 === 0, 'slices are 8-byte aligned')
  }
  // A user's write into one copy changes no other one, nor the channel.
  got[0].fill(0xee)
  t.true(got[1].every((b) => b === 2))
  // Transferring a copy's buffer detaches the slab it shares: later copies come from a new one.
  // (Caged, copies are the addon's own Buffers, not slab slices, which the runtime may not detach.)
  const slab = got[got.length - 1].buffer as ArrayBuffer // the last copy (1 byte): the slab in use
  if (!caged) {
    structuredClone(slab, { transfer: [slab] })
    t.is(slab.byteLength, 0, 'detached')
  }
  t.true(ch.trySend('after the transfer'))
  t.is(String(ch.tryReceive()), 'after the transfer')
  t.is(ch.stats().pending, 0)
  region.close()
})

test('backpressure: trySend says no, send times out, sendAsync waits for the consumer', async (t) => {
  const r = MmapFile.anonymous(256 + 1024, { shared: true })
  const ch = Channel.create(r)
  let n = 0
  while (ch.trySend(Buffer.alloc(100))) n++
  t.is(n, 9) // 9 records of 8 + 104 bytes in 1024
  t.like(ch.stats(), { pending: 9, used: 1008 })
  t.false(ch.send(Buffer.alloc(100), { timeout: 20 }))
  const later = ch.sendAsync(Buffer.alloc(100))
  await new Promise((res) => setTimeout(res, 20))
  t.truthy(ch.tryReceive())
  t.true(await later)
  t.is(ch.receive({ timeout: 0 })?.length, 100)
  const ac = new AbortController()
  const waiting = Channel.create(MmapFile.anonymous(256 + 1024, { shared: true })).receiveAsync({
    signal: ac.signal,
  })
  ac.abort()
  await t.throwsAsync(waiting, { name: 'AbortError' })
  t.is(Channel.create(MmapFile.anonymous(512, { shared: true })).receive({ timeout: 10 }), null)
})

test('in place: a reservation is written where the message lies, a peeked message is read there', async (t) => {
  const r = SharedMemory.anonymous(256 + 4096)
  const ch = Channel.create(r)
  const res = ch.tryReserve(64)!
  res.buffer.write('written in place')
  t.is(
    code(() => ch.trySend('x')),
    'ERR_MAPSHARE_CHANNEL_STATE',
  )
  res.commit(16)
  t.is(
    code(() => res.commit()),
    'ERR_MAPSHARE_CHANNEL_STATE',
  )
  const aborted = ch.tryReserve(8)!
  aborted.abort()
  const m = ch.tryPeek()!
  t.is(String(m), 'written in place')
  if (!caged) {
    // The peeked Buffer is the channel's memory: the record's bytes are at the data area's start + 8.
    t.is(r.read(256 + 8, 16).toString(), 'written in place')
    t.is(m.buffer, r.view(Uint8Array).buffer)
  }
  t.is(
    code(() => ch.tryReceive()),
    'ERR_MAPSHARE_CHANNEL_STATE',
  )
  ch.release()
  t.is(
    code(() => ch.release()),
    'ERR_MAPSHARE_CHANNEL_STATE',
  )
  t.is(ch.tryPeek(), null)
  // peek waits for a message, peekAsync sleeps for one; both leave it in the channel until release().
  t.is(ch.peek({ timeout: 5 }), null)
  setTimeout(() => ch.trySend('later'), 20)
  const later = await ch.peekAsync({ timeout: 60_000 }) // long: a loaded machine can stall this loop for seconds
  t.is(String(later), 'later')
  t.is(ch.stats().pending, 1)
  t.is(
    code(() => ch.peek()),
    'ERR_MAPSHARE_CHANNEL_STATE',
  )
  ch.release()
  t.is(ch.stats().pending, 0)
  t.is(await ch.peekAsync({ timeout: 5 }), null)
})

test('a channel goes on over a resized region; a closed or read-only one is refused with its code', (t) => {
  const file = tmpFile(t, Buffer.alloc(256 + 4096))
  const r = MmapFile.open(file, { flags: 'r+' })
  const tx = Channel.create(r)
  const rx = Channel.open(r)
  t.true(tx.trySend('before'))
  const res = tx.tryReserve(5)!
  res.buffer.write('stale')
  r.resize(256 + 8192) // the old mapping's views now read zeros: the channel takes new ones
  if (caged)
    res.commit() // a scratch copy: still good
  else
    t.is(
      code(() => res.commit()),
      'ERR_MAPSHARE_CHANNEL_STATE',
    ) // written where nobody sees it: nothing sent
  t.true(tx.trySend('after'))
  const got = []
  for (let m; (m = rx.tryReceive()) !== null;) got.push(String(m))
  t.deepEqual(got, caged ? ['before', 'stale', 'after'] : ['before', 'after'])
  t.like(tx.stats(), { sent: got.length, received: got.length, used: 0 })
  t.true(tx.trySend('peeked'))
  t.is(String(rx.tryPeek()), 'peeked')
  r.close()
  for (const f of [
    () => tx.trySend('x'),
    () => tx.tryReserve(1),
    () => tx.end(),
    () => tx.stats(),
    () => rx.release(),
    () => rx.tryReceiveInto(Buffer.alloc(8)),
    () => rx.receive({ timeout: 0 }),
  ])
    t.is(code(f), 'ERR_MAPSHARE_CLOSED', String(f))
  t.is(
    code(() => Channel.open(MmapFile.open(file))),
    'ERR_MAPSHARE_READ_ONLY',
  ) // even a consumer writes the head
})

test('two objects taking turns at one side of a channel, with 4 GiB passing in between, see where the other one left it', (t) => {
  const r = SharedMemory.anonymous(256 + 4096)
  const P = 2 ** 32 // positions run mod 2^32
  const at = (pos: number) => r.store(64, pos >>> 0) // the tail: moved as 4 GiB of traffic would have
  // Producers: A sends once and remembers the head (0); B then fills the ring after the positions
  // wrapped, so that A's old head and the new tail look like plenty of room. A must look again.
  const tx = Channel.create(r)
  const rx = Channel.open(r)
  const a = Channel.open(r)
  t.true(a.trySend('a'))
  t.is(String(rx.tryReceive()), 'a')
  at(P - 1024)
  r.store(128, P - 1024) // the head: empty again
  const big = Buffer.alloc(1000, 1)
  let sent = 0
  while (tx.trySend(big)) sent++
  t.is(sent, 4)
  t.false(a.trySend(big)) // the ring is full: A's head from before the wrap would have said room for one
  for (let i = 0; i < 4; i++) t.deepEqual(rx.tryReceive(), big)
  t.is(rx.tryReceive(), null)
  // Consumers: C1 reads once and remembers the tail; C2 reads on; the positions wrap; C1 must look again.
  const c1 = Channel.open(r)
  const c2 = Channel.open(r)
  t.true(tx.trySend('x'))
  t.true(tx.trySend('y'))
  t.is(String(c1.tryReceive()), 'x')
  t.is(String(c2.tryReceive()), 'y')
  at(P - 8)
  r.store(128, P - 8) // empty, 8 bytes before C1's old tail
  t.is(c1.tryReceive(), null)
  t.true(tx.trySend('z'))
  t.is(String(c1.tryReceive()), 'z')
  // Exactly 2^32 bytes later a position is back where an object left it: the message counts tell.
  const d = Channel.open(r)
  t.true(d.trySend('d'))
  const left = r.load(64) >>> 0
  t.is(String(rx.tryReceive()), 'd')
  r.store(128, left - 4096) // full: 4096 bytes the other producer sent, from where d left the tail
  r.store(80, r.load(80) + 1000) // ... counted in 'sent'
  t.false(d.trySend('no room'))
  const e = Channel.open(r)
  r.store(128, left) // empty again, at the tail d and e know
  r.store(64, left)
  t.true(tx.trySend('e'))
  t.is(String(e.tryReceive()), 'e')
  const f = Channel.open(r)
  t.true(tx.trySend('f'))
  t.is(String(f.tryReceive()), 'f')
  r.store(140, r.load(140) + 1000) // f's side counted more messages, and the positions are back where
  r.store(128, r.load(128) >>> 0) // e left them: empty
  r.store(64, r.load(128) >>> 0)
  t.is(e.tryReceive(), null) // not 'f' again
})

test('sleepers: a resize wakes them (the channel goes on), a dead producer cannot strand the consumer, two waits on one consumer keep its flag', async (t) => {
  const file = tmpFile(t, Buffer.alloc(256 + 4096))
  const r = MmapFile.open(file, { flags: 'r+' })
  const tx = Channel.create(r)
  const rx = Channel.open(r)
  // A receive and a send asleep across a resize: both go on, and their flags end up cleared in the
  // file (not in the old mapping's inert pages).
  const receiving = rx.receiveAsync()
  t.true(await until(() => r.load(72) === 1)) // the consumer sleeps
  r.resize(256 + 8192)
  t.true(tx.trySend('after resize'))
  t.is(String(await receiving), 'after resize')
  while (tx.trySend(Buffer.alloc(1000)));
  const sending = tx.sendAsync(Buffer.alloc(1000))
  t.true(await until(() => r.load(136) === 1)) // a producer sleeps
  r.resize(256 + 4096 + 4096)
  while (rx.tryReceive() !== null);
  t.true(await sending)
  t.is(r.load(136), 0)
  t.is(r.load(72), 0)
  while (rx.tryReceive() !== null);
  // A producer that took the 'consumer sleeping' flag and died before waking it: the consumer looks
  // again on its own (a receive without a timeout never returned).
  const stranded = rx.receiveAsync()
  t.true(await until(() => r.load(72) === 1))
  r.store(72, 0) // what the dead producer's swap did
  t.true(tx.trySend('found anyway')) // a live producer sees no sleeper: no wake-up
  const got = await Promise.race([
    stranded,
    new Promise((w) => setTimeout(() => w('stranded'), 60_000).unref()), // does not keep the test alive
  ])
  t.is(String(got), 'found anyway')
  // Two waits on one consumer: the first to time out leaves the flag to the other, which still sleeps.
  const short = rx.receiveAsync({ timeout: 30 })
  const long = rx.receiveAsync({ timeout: 10_000 })
  t.is(await short, null)
  // The long wait sleeps on (it may be between two of its looks, each a few turns of the loop).
  let announced = r.load(72)
  for (let turn = 0; turn < 50 && announced !== 1; turn++) {
    await new Promise((w) => setTimeout(w, 2))
    announced = r.load(72)
  }
  t.is(announced, 1)
  t.true(tx.trySend('to the long wait'))
  t.is(String(await long), 'to the long wait')
  t.is(r.load(72), 0)
  r.close()
  await t.throwsAsync(rx.receiveAsync(), { code: 'ERR_MAPSHARE_CLOSED' })
})

test("receiveInto copies into the caller's buffer; one too small is ERR_OUT_OF_RANGE and the message stays", async (t) => {
  const ch = Channel.create(MmapFile.anonymous(256 + 4096, { shared: true }))
  ch.trySend('twelve bytes')
  ch.trySend('next')
  const small = Buffer.alloc(4)
  t.is(
    code(() => ch.tryReceiveInto(small)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => ch.tryReceiveInto('x' as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  const big = new Uint8Array(64)
  t.is(ch.tryReceiveInto(big), 12)
  t.is(Buffer.from(big.subarray(0, 12)).toString(), 'twelve bytes')
  t.is(ch.receiveInto(new DataView(big.buffer, 8), { timeout: 0 }), 4)
  t.is(Buffer.from(big.subarray(8, 12)).toString(), 'next')
  t.is(ch.tryReceiveInto(big), null)
  const later = ch.receiveIntoAsync(big, { timeout: 60_000 })
  ch.trySend('async')
  t.is(await later, 5)
  t.is(await ch.receiveIntoAsync(big, { timeout: 10 }), null)
})

test('corrupt channel memory written by another process is ERR_MAPSHARE_CHANNEL_CORRUPT, never a crash or a hang', async (t) => {
  const file = tmpFile(t, Buffer.alloc(256 + 4096))
  const region = MmapFile.open(file, { flags: 'r+' })
  const corrupt = async (js: string) => {
    Channel.create(region)
    const rx = Channel.open(region)
    t.like(rx.stats(), { used: 0, pending: 0 }) // the channel was fine when opened
    const r = await snippet(
      `
      const r = MmapFile.open(process.argv[2], { flags: 'r+' })
      const ch = mapshare.Channel.open(r)
      ch.trySend('one'); ch.trySend('two')
      ${js}
    `,
      { args: [file] },
    )
    t.is(r.status, 0, r.stderr)
    return [code(() => rx.tryReceive()), code(() => rx.receive({ timeout: 10 })), code(() => rx.stats())]
  }
  t.deepEqual(await corrupt('r.store(64, 999999)'), Array(3).fill('ERR_MAPSHARE_CHANNEL_CORRUPT')) // tail far ahead
  t.deepEqual(
    (await corrupt('r.store(256 + 4, 7)')).slice(0, 2),
    Array(2).fill('ERR_MAPSHARE_CHANNEL_CORRUPT'),
  ) // a bad kind
  t.deepEqual(
    (await corrupt('r.store(256, 0x7fffffff)')).slice(0, 2),
    Array(2).fill('ERR_MAPSHARE_CHANNEL_CORRUPT'),
  ) // a huge length
  t.deepEqual(
    (await corrupt('r.store(256 + 4, 2)')).slice(0, 2),
    Array(2).fill('ERR_MAPSHARE_CHANNEL_CORRUPT'),
  ) // a bad padding
  // Positions a peer moved off the 8-byte grid: refused before any byte is read as a message.
  t.deepEqual(await corrupt('r.store(64, 28)'), Array(3).fill('ERR_MAPSHARE_CHANNEL_CORRUPT')) // tail
  t.deepEqual(await corrupt('r.store(128, 4)'), Array(3).fill('ERR_MAPSHARE_CHANNEL_CORRUPT')) // head
  // Opening what is not a channel.
  for (const [at, value] of [
    [0, 0],
    [4, 1], // the version before the wake-up protocol changed
    [4, 3],
    [8, 100],
    [8, 2 ** 31],
    [12, 6],
  ]) {
    Channel.create(region)
    region.store(at, value)
    t.is(
      code(() => Channel.open(region)),
      'ERR_MAPSHARE_CHANNEL_CORRUPT',
      `word ${at} = ${value}`,
    )
  }
  region.close()
})

test('bad arguments are coded errors', (t) => {
  const r = MmapFile.anonymous(4096, { shared: true })
  t.is(
    code(() => Channel.create(r, { byteOffset: 32 })),
    'ERR_MAPSHARE_UNALIGNED',
  )
  t.is(
    code(() => Channel.create(r, { byteOffset: 4096 })),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => Channel.create(r, { byteLength: 100 })),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => Channel.create(r, { byteLength: 8192 })),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => Channel.create(r, { producers: 'all' as never })),
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    code(() => Channel.create({} as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => new (Channel as unknown as new () => unknown)()),
    'ERR_ILLEGAL_CONSTRUCTOR',
  )
  const ch = Channel.create(r)
  t.is(
    code(() => ch.trySend(42 as never)),
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    code(() => ch.trySend(Buffer.alloc(ch.maxMessageSize + 1))),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => ch.trySend(Buffer.alloc(ch.maxMessageSize))),
    'no error',
  )
  t.is(
    code(() => ch.tryReserve(-1)),
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    code(() => ch.receive({ timeout: -1 })),
    'ERR_OUT_OF_RANGE',
  )
  ch.end()
  t.is(
    code(() => ch.trySend('late')),
    'ERR_MAPSHARE_CHANNEL_ENDED',
  )
  t.is(ch.receive()?.length, ch.maxMessageSize) // what was sent before the end is still read
  t.is(ch.receive(), null)
})

test('stats() stays within what the positions say when a peer died between moving a position and counting', (t) => {
  const region = SharedMemory.anonymous(256 + 4096)
  const ch = Channel.create(region)
  ch.trySend('one')
  ch.trySend('two')
  t.truthy(ch.tryReceive())
  // A producer killed after publishing its tail but before counting: `sent` is left behind `received`.
  region.store(80, 0)
  t.like(ch.stats(), { pending: 1, used: 16 })
  // A consumer killed after moving the head but before counting: `received` is left behind.
  region.store(80, 2)
  region.store(140, 0)
  t.truthy(ch.tryReceive())
  t.like(ch.stats(), { pending: 0, used: 0 })
  // Counters far apart: never more pending messages than 8-byte records fit in what is used.
  ch.trySend('three')
  region.store(80, 1000)
  t.like(ch.stats(), { pending: 2, used: 16 })
  region.close()
})

test('C producers take the producers lock from the header: with Node producers, and killed while holding it', async (t) => {
  const dir = tmpDir(t)
  const exe = channelPeer(dir)
  const file = path.join(dir, 'many.bin')
  fs.writeFileSync(file, Buffer.alloc(256 + 4096)) // small: producers often wait for room, and contend
  const region = MmapFile.open(file, { flags: 'r+' })
  const ch = Channel.create(region, { producers: 'many' })
  const count = 3000
  const producers = ['a', 'b'].map((tag) => {
    const p = spawn(exe, ['send-many', file, String(count), tag], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr.on('data', (d) => (err += d))
    return new Promise<string>((resolve) => p.on('close', (status) => resolve(`${status} ${err}`)))
  })
  const sending = (async () => {
    for (let i = 0; i < count; i++) await ch.sendAsync(`n ${i}`, { timeout: 60_000 })
  })()
  const next = new Map<string, number>([
    ['a', 0],
    ['b', 0],
    ['n', 0],
  ])
  let wrong = 0
  for (let got = 0; got < 3 * count; got++) {
    const m = await ch.receiveAsync({ timeout: 60_000 })
    if (m === null) break
    const [tag, i] = String(m).split(' ')
    if (Number(i) !== next.get(tag!)) wrong++
    next.set(tag!, Number(i) + 1)
  }
  await sending
  t.deepEqual(await Promise.all(producers), ['0 ', '0 '])
  t.deepEqual([...next.values()], [count, count, count], 'every message arrived, once')
  t.is(wrong, 0, "each producer's messages in its order")
  // A C producer killed while it holds the lock: Node's next send takes the lock over and goes on.
  const holder = spawn(exe, ['die-holding', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const held = await new Promise<string>((resolve) =>
    holder.stdout.once('data', (d) => resolve(String(d).trim())),
  )
  t.is(held, 'held 0')
  const closed = new Promise((r) => holder.on('close', r))
  holder.kill('SIGKILL')
  await closed
  t.true(ch.trySend('after'))
  t.is(String(ch.tryReceive()), 'after')
  region.close()
})

test('close(), using and await using: pending receives and sends end, an iteration ends, later calls throw; the memory goes on', async (t) => {
  const r = MmapFile.anonymous(256 + 1024, { shared: true })
  const tx = Channel.create(r)
  const rx = Channel.open(r)
  const pending = rx.receiveAsync()
  const rx2 = Channel.open(r)
  const looping = (async () => {
    const got: string[] = []
    for await (const m of rx2) got.push(String(m))
    return got
  })()
  await new Promise((w) => setTimeout(w, 20))
  rx.close()
  rx.close() // idempotent
  t.is(await pending, null, 'a pending receive resolves null')
  t.throws(() => rx.tryReceive(), { code: 'ERR_MAPSHARE_CLOSED' })
  t.regex(inspect(rx), /ERR_MAPSHARE_CLOSED/)
  rx2[Symbol.dispose]()
  t.deepEqual(await looping, [], 'the iteration ends')
  // A full channel: a pending send resolves false when its Channel closes.
  while (tx.trySend(Buffer.alloc(100)));
  const sending = tx.sendAsync(Buffer.alloc(100))
  await new Promise((w) => setTimeout(w, 20))
  await tx[Symbol.asyncDispose]()
  t.false(await sending)
  // The channel in memory goes on, through other objects.
  const tx2 = Channel.open(r)
  const rx3 = Channel.open(r)
  let n = 0
  while (rx3.tryReceive() !== null) n++
  t.is(n, 9)
  t.true(tx2.trySend('still here'))
  // A reservation given back by `using` unless committed.
  {
    using res = tx2.tryReserve(4)!
    res.buffer.write('nope')
  }
  {
    using res = tx2.tryReserve(4)!
    res.buffer.write('kept')
    res.commit()
  }
  t.deepEqual(
    [String(rx3.tryReceive()), String(rx3.tryReceive()), rx3.tryReceive()],
    ['still here', 'kept', null],
  )
  r.close()
})
