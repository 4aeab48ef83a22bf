// The other side of the channel benchmark (benchmark/channel.ts), in its own process: consumes a
// stream of messages (reporting the time the last one arrived) or echoes every message back.
// Usage: channel-peer.ts <channel|channel-peek|channel-receive|channel-iter|send|socket> <sink|echo> <size> <count> [shm name | socket path] [echo channel offset]
import net from 'node:net'
import { Channel, SharedMemory } from 'mapshare'

const [transport, mode, sizeArg, countArg, where] = process.argv.slice(2)
const count = Number(countArg)
void sizeArg // the sender decides the size; the peer takes what comes
const done = (bytes: number) => {
  // The end of the work on the clock the parent started (CLOCK_MONOTONIC, shared by all processes).
  process.stdout.write(`done ${process.hrtime.bigint()} ${bytes}\n`)
}

if (transport === 'channel-receive' || transport === 'channel-iter') {
  // What a user writes first: a fresh Buffer per message, from receive (tryReceive, else
  // receiveAsync) or from `for await`.
  const shm = SharedMemory.open(where)
  const rx = Channel.open(shm, { byteOffset: 0 })
  const tx = mode === 'echo' ? Channel.open(shm, { byteOffset: Number(process.argv[7]) }) : null
  process.stdout.write('ready\n')
  let bytes = 0
  let i = 0
  const take = async (m: Buffer) => {
    bytes += m.length
    if (tx !== null && !tx.trySend(m)) await tx.sendAsync(m)
    return ++i === count
  }
  if (transport === 'channel-iter') {
    for await (const m of rx) if (await take(m)) break
  } else {
    while (!(await take(rx.tryReceive() ?? (await rx.receiveAsync())!)));
  }
  done(bytes)
  shm.close()
} else if (transport === 'channel' || transport === 'channel-peek') {
  // 'channel' copies each message into one reused buffer (no allocation per message); 'channel-peek'
  // reads it in place (a Buffer over the channel's memory until release()).
  const inPlace = transport === 'channel-peek'
  const shm = SharedMemory.open(where)
  const rx = Channel.open(shm, { byteOffset: 0 })
  const tx = mode === 'echo' ? Channel.open(shm, { byteOffset: Number(process.argv[7]) }) : null
  process.stdout.write('ready\n')
  const buf = Buffer.alloc(rx.maxMessageSize)
  let bytes = 0
  for (let i = 0; i < count; i++) {
    if (inPlace) {
      const m = rx.tryPeek() ?? (await rx.peekAsync())!
      bytes += m.length
      if (tx !== null && !tx.trySend(m)) await tx.sendAsync(m)
      rx.release()
    } else {
      const len = rx.tryReceiveInto(buf) ?? (await rx.receiveIntoAsync(buf))!
      bytes += len
      if (tx !== null && !tx.trySend(buf.subarray(0, len))) await tx.sendAsync(buf.subarray(0, len))
    }
  }
  done(bytes)
  shm.close()
} else if (transport === 'send') {
  let n = 0
  let bytes = 0
  process.on('message', (m: Buffer) => {
    bytes += m.length
    const last = ++n === count
    // Disconnect only once the last echo is written: a large message still queued would be lost.
    const finish = () => {
      done(bytes)
      process.disconnect()
    }
    if (mode === 'echo') process.send!(m, undefined, {}, last ? finish : () => {})
    else if (last) finish()
  })
  process.stdout.write('ready\n')
} else if (transport === 'socket') {
  // Length-prefixed frames over a Unix domain socket.
  const sock = net.connect(where)
  let n = 0
  let bytes = 0
  let pending = Buffer.alloc(0)
  sock.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const len = pending.readUInt32LE(0)
      if (pending.length < 4 + len) break
      const m = pending.subarray(4, 4 + len)
      pending = pending.subarray(4 + len)
      bytes += m.length
      if (mode === 'echo') {
        const head = Buffer.alloc(4)
        head.writeUInt32LE(m.length)
        sock.write(head)
        sock.write(m)
      }
      if (++n === count) {
        done(bytes)
        sock.end()
      }
    }
  })
  sock.on('connect', () => process.stdout.write('ready\n'))
}
