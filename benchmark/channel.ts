// Messages between two processes at 64 B, 4 KiB and 1 MiB: mapshare's Channel against process.send
// (advanced serialization), a Unix domain socket (length-prefixed frames) and MessagePort between two
// worker threads; for 1 MiB also against memcpy bandwidth. Throughput: one side sends as fast as the
// transport takes, the other counts (the time runs to the last message's arrival). Latency: a round
// trip, each side echoing. Async APIs everywhere (what a Node program uses). Also writes an SVG chart.
import { execFileSync, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Channel, SharedMemory } from 'mapshare'
import { median } from './median.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const peer = path.join(here, 'channel-peer.ts')
const execArgv = process.execArgv.filter((a) => a !== '--expose-gc')
const KiB = 1024
const MiB = 1024 * 1024

type Child = { child: ReturnType<typeof spawn>; done: Promise<bigint> }

/** Starts the peer; resolves when it is ready. `done` gives the time its last message arrived. */
async function start(args: string[], ipc = false): Promise<Child> {
  const child = ipc
    ? fork(peer, args, { execArgv, serialization: 'advanced', stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    : spawn(process.execPath, [...execArgv, peer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  let ready: () => void
  const isReady = new Promise<void>((r) => (ready = r))
  const done = new Promise<bigint>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('ready\n')) ready()
      const m = /done (\d+)/.exec(out)
      if (m) resolve(BigInt(m[1]))
    })
    child.on('exit', (code) => reject(new Error(`channel peer ${args.join(' ')} exited with ${code}`)))
  })
  done.catch(() => {})
  await isReady
  return { child, done }
}

/** How the consumers read: into one reused buffer, in place, or a fresh Buffer per message. */
type Reading = 'into' | 'peek' | 'receive' | 'iter'
const PEER_MODE: Record<Reading, string> = {
  into: 'channel',
  peek: 'channel-peek',
  receive: 'channel-receive',
  iter: 'channel-iter',
}

async function channel(size: number, n: number, echo: boolean, reading: Reading | boolean): Promise<number> {
  const how: Reading = reading === true ? 'peek' : reading === false ? 'into' : reading
  const cap = size >= MiB ? 8 * MiB : MiB
  const name = `/mapshare-bench-${process.pid}-${size}-${echo}`
  const shm = SharedMemory.create(name, 2 * (256 + cap))
  const tx = Channel.create(shm, { byteLength: 256 + cap })
  const rx = Channel.create(shm, { byteOffset: 256 + cap, byteLength: 256 + cap })
  const p = await start([
    PEER_MODE[how],
    echo ? 'echo' : 'sink',
    String(size),
    String(n),
    name,
    String(256 + cap),
  ])
  SharedMemory.unlink(name)
  const msg = Buffer.alloc(size, 7)
  const t0 = process.hrtime.bigint()
  const reply = Buffer.alloc(size)
  const replies = how === 'iter' ? rx[Symbol.asyncIterator]() : null
  for (let i = 0; i < n; i++) {
    if (!tx.trySend(msg)) await tx.sendAsync(msg)
    if (!echo) continue
    if (replies !== null) await replies.next()
    else if (how === 'receive') {
      if (rx.tryReceive() === null) await rx.receiveAsync()
    } else if (how === 'peek') {
      if (rx.tryPeek() === null) await rx.peekAsync()
      rx.release()
    } else if (rx.tryReceiveInto(reply) === null) await rx.receiveIntoAsync(reply)
  }
  const end = echo ? process.hrtime.bigint() : await p.done
  await once(p.child, 'exit')
  shm.close()
  return Number(end - t0) / n
}

async function send(size: number, n: number, echo: boolean): Promise<number> {
  const p = await start(['send', echo ? 'echo' : 'sink', String(size), String(n)], true)
  const msg = Buffer.alloc(size, 7)
  const replies = echo ? p.child : null
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    if (echo) {
      p.child.send!(msg)
      await once(replies!, 'message')
    } else if (i % 64 === 63) await new Promise((r) => p.child.send!(msg, r))
    else p.child.send!(msg)
  }
  const end = echo ? process.hrtime.bigint() : await p.done
  await once(p.child, 'exit')
  return Number(end - t0) / n
}

async function socket(dir: string, size: number, n: number, echo: boolean): Promise<number> {
  const where = path.join(dir, `bench-${size}-${echo}.sock`)
  fs.rmSync(where, { force: true })
  const server = net.createServer()
  server.listen(where)
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const p = await start(['socket', echo ? 'echo' : 'sink', String(size), String(n), where])
  const [sock] = (await accepted) as [net.Socket]
  const head = Buffer.alloc(4)
  head.writeUInt32LE(size)
  const msg = Buffer.alloc(size, 7)
  let got = 0
  let pending = 0
  let wake: (() => void) | null = null
  if (echo)
    sock.on('data', (d) => {
      pending += d.length
      while (pending >= 4 + size) {
        pending -= 4 + size
        got++
        wake?.()
      }
    })
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    sock.write(head)
    const more = sock.write(msg)
    if (echo) {
      if (got <= i) await new Promise<void>((r) => (wake = r))
      wake = null
    } else if (!more) await once(sock, 'drain')
  }
  const end = echo ? process.hrtime.bigint() : await p.done
  sock.destroy()
  server.close()
  await once(p.child, 'exit')
  return Number(end - t0) / n
}

async function port(size: number, n: number, echo: boolean): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { n, echo } = workerData
    let k = 0
    parentPort.on('message', (m) => {
      if (echo) parentPort.postMessage(m)
      if (++k === n) { parentPort.postMessage({ done: process.hrtime.bigint() }); parentPort.close() }
    })
    parentPort.postMessage('ready')`
  const w = new Worker(code, { eval: true, workerData: { n, echo } })
  await once(w, 'message')
  const msg = Buffer.alloc(size, 7)
  let end = 0n
  const finished = new Promise<void>((resolve) =>
    w.on('message', (m) => {
      if (m && typeof m === 'object' && 'done' in m) {
        end = (m as { done: bigint }).done
        resolve()
      }
    }),
  )
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    w.postMessage(msg)
    if (echo) await once(w, 'message')
    else if (i % 256 === 255) await new Promise((r) => setImmediate(r)) // let the worker keep up
  }
  const stop = echo ? process.hrtime.bigint() : (await finished, end)
  await w.terminate()
  return Number(stop - t0) / n
}

/** The Python of a virtual environment with iceoryx2 (benchmark/requirements-iceoryx2.txt, installed
 * from PyPI on first use), or why there is none. */
function iceoryx2Python(dataDir: string): { python: string } | { skip: string } {
  const venv = path.join(dataDir, 'iceoryx2-venv')
  const python = path.join(venv, 'bin', 'python')
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe', timeout: 300_000 })
  try {
    if (!fs.existsSync(python)) run('python3', ['-m', 'venv', venv])
    try {
      run(python, ['-c', 'import iceoryx2'])
    } catch {
      run(python, ['-m', 'pip', 'install', '-q', '-r', path.join(here, 'requirements-iceoryx2.txt')])
    }
    return { python }
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string }
    return { skip: (err.stderr?.toString().trim().split('\n').pop() ?? '') || err.message }
  }
}

/** The first match of `re` in `child`'s output; rejects if it exits first. */
function lineOf(child: ReturnType<typeof spawn>, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = ''
    const look = (d: Buffer) => {
      out += d
      const m = re.exec(out)
      if (m) {
        child.stdout!.off('data', look)
        resolve(m)
      }
    }
    child.stdout!.on('data', look)
    child.on('exit', (code) => reject(new Error(`iceoryx2 peer exited with ${code} before ${re}`)))
  })
}

let services = 0
/** iceoryx2 publish-subscribe between two Python processes (benchmark/iceoryx2_peer.py). */
async function iceoryx2(python: string, size: number, n: number, echo: boolean): Promise<number> {
  const name = `mapshare-bench-${process.pid}-${services++}`
  const peer = (role: string) =>
    spawn(python, [path.join(here, 'iceoryx2_peer.py'), role, String(size), String(n), name], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
  const first = peer(echo ? 'pong' : 'sub')
  const firstExit = once(first, 'exit')
  await lineOf(first, /ready\n/)
  const second = peer(echo ? 'ping' : 'pub')
  const secondExit = once(second, 'exit')
  let ns: number
  if (echo) ns = Number((await lineOf(second, /rtt (\d+)\n/))[1])
  else {
    const start = BigInt((await lineOf(second, /start (\d+)\n/))[1])
    ns = Number(BigInt((await lineOf(first, /done (\d+)\n/))[1]) - start) / n
  }
  await Promise.all([firstExit, secondExit])
  return ns
}

/** memcpy bandwidth for `size`-byte copies, as ns per copy. */
function memcpy(size: number): number {
  const a = Buffer.alloc(size, 1)
  const b = Buffer.alloc(size)
  const n = Math.max(50, Math.floor((256 * MiB) / size))
  for (let i = 0; i < 20; i++) a.copy(b)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) a.copy(b)
  return Number(process.hrtime.bigint() - t0) / n
}

const show = (size: number) =>
  size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`

export async function channelRows(dataDir: string, quick: boolean) {
  const sizes = [64, 4 * KiB, MiB]
  const counts = quick ? [20_000, 5_000, 100] : [300_000, 100_000, 2_000]
  const rounds = quick ? [1_000, 1_000, 50] : [5_000, 5_000, 200]
  const COPY = 'mapshare Channel, copied out'
  const PEEK = 'mapshare Channel, read in place'
  const RECEIVE = 'mapshare Channel, receive() (a Buffer each)'
  const ITER = 'mapshare Channel, for await (a Buffer each)'
  const channels = [COPY, PEEK]
  const ICEORYX2 = 'iceoryx2 (Python, busy polling)'
  const ice = iceoryx2Python(dataDir)
  const transports = [...channels, RECEIVE, ITER, 'process.send', 'Unix socket', 'MessagePort']
  if ('python' in ice) transports.push(ICEORYX2)
  else console.error(`iceoryx2 row skipped: ${ice.skip}`)
  const results: Record<string, { tput: number[]; lat: number[] }> = {}
  for (const t of transports) results[t] = { tput: [], lat: [] }
  const rows: { case: string; value: string; ratio: string }[] = []
  for (const [i, size] of sizes.entries()) {
    const run: Record<string, (n: number, echo: boolean) => Promise<number>> = {
      [COPY]: (n, e) => channel(size, n, e, false),
      [PEEK]: (n, e) => channel(size, n, e, true),
      [RECEIVE]: (n, e) => channel(size, n, e, 'receive'),
      [ITER]: (n, e) => channel(size, n, e, 'iter'),
      'process.send': (n, e) => send(size, n, e),
      'Unix socket': (n, e) => socket(dataDir, size, n, e),
      MessagePort: (n, e) => port(size, n, e),
      [ICEORYX2]: (n, e) => iceoryx2((ice as { python: string }).python, size, n, e),
    }
    const tput: Record<string, number> = {}
    const lat: Record<string, number> = {}
    for (const t of transports) {
      tput[t] = await run[t](counts[i], false)
      lat[t] = await run[t](rounds[i], true)
      results[t].tput.push(1e9 / tput[t])
      results[t].lat.push(lat[t] / 1000)
    }
    const base = tput['process.send']
    for (const t of transports)
      rows.push({
        case: `${show(size)} messages, throughput: ${t}`,
        value: `${(1e9 / tput[t]).toFixed(0)} msg/s`,
        ratio: (tput[t] / base).toFixed(3), // time per message / process.send's
      })
    for (const t of transports)
      rows.push({
        case: `${show(size)} messages, round trip: ${t}`,
        value: `${(lat[t] / 1000).toFixed(1)} µs`,
        ratio: (lat[t] / lat['process.send']).toFixed(2),
      })
    if (ICEORYX2 in tput)
      for (const c of channels) {
        const how = c === COPY ? 'copied out' : 'in place'
        rows.push(
          {
            case: `${show(size)}: Channel ${how} / iceoryx2, messages per second`,
            value: '',
            ratio: (tput[ICEORYX2] / tput[c]).toFixed(2),
          },
          {
            case: `${show(size)}: Channel ${how} / iceoryx2, round trip`,
            value: '',
            ratio: (lat[c] / lat[ICEORYX2]).toFixed(2),
          },
        )
      }
  }
  // The goals, each from interleaved repetitions (baseline, then each Channel, REPS times): the ratio of
  // every repetition, and their median, so that a noisy neighbour slows both sides of a ratio alike.
  const REPS = quick ? 1 : 3
  const how = (c: string) =>
    ({ [COPY]: 'copied out', [PEEK]: 'in place', [RECEIVE]: 'receive()', [ITER]: 'for await' })[c] ?? c
  const reading = (c: string): Reading =>
    (({ [COPY]: 'into', [PEEK]: 'peek', [RECEIVE]: 'receive', [ITER]: 'iter' }) as Record<string, Reading>)[c]
  const goal = async (
    label: string,
    baseline: () => Promise<number> | number,
    subject: (c: string) => Promise<number>,
    ratio: (base: number, value: number) => number,
    digits: number,
    which: string[] = channels,
  ) => {
    const per: Record<string, number[]> = {}
    for (const c of which) per[c] = []
    for (let r = 0; r < REPS; r++)
      for (const c of which) {
        const base = await baseline()
        per[c].push(ratio(base, await subject(c)))
      }
    for (const c of which)
      rows.push({
        case: label.replace('Channel', `Channel ${how(c)}`),
        value: per[c].map((x) => x.toFixed(digits)).join(', '),
        ratio: median(per[c]).toFixed(digits),
      })
  }
  const ordinary = [RECEIVE, ITER]
  await goal(
    '64 B round trip: Channel / MessagePort (goal <= 1)',
    () => port(64, rounds[0], true),
    (c) => channel(64, rounds[0], true, reading(c)),
    (base, v) => v / base,
    2,
  )
  await goal(
    '4 KiB throughput: Channel / process.send (goal >= 10)',
    () => send(4 * KiB, counts[1], false),
    (c) => channel(4 * KiB, counts[1], false, reading(c)),
    (base, v) => base / v,
    1,
    [...channels, ...ordinary],
  )
  await goal(
    '4 KiB throughput: Channel / Unix socket (goal >= 5 for the ordinary API)',
    () => socket(dataDir, 4 * KiB, counts[1], false),
    (c) => channel(4 * KiB, counts[1], false, reading(c)),
    (base, v) => base / v,
    1,
    ordinary,
  )
  await goal(
    '4 KiB throughput: time per message, Channel / copied out (receiveInto) (goal <= 1.5)',
    () => channel(4 * KiB, counts[1], false, 'into'),
    (c) => channel(4 * KiB, counts[1], false, reading(c)),
    (base, v) => v / base,
    2,
    ordinary,
  )
  await goal(
    '1 MiB bandwidth: Channel / memcpy (Buffer.copy, 1 MiB again and again) (goal >= 0.5 copied out and in place, 0.3 receive())',
    () => memcpy(MiB),
    (c) => channel(MiB, counts[2], false, reading(c)),
    (base, v) => base / v,
    2,
    [...channels, RECEIVE],
  )
  rows.push({
    case: '1 MiB: memcpy (Buffer.copy) bandwidth',
    value: `${(MiB / memcpy(MiB)).toFixed(2)} GB/s`,
    ratio: '',
  })
  fs.writeFileSync(path.join(here, 'channel.svg'), chart(sizes.map(show), results))
  return rows
}

/** Two log-scale panels (throughput, round trip) against message size, one line per transport. */
function chart(labels: string[], results: Record<string, { tput: number[]; lat: number[] }>): string {
  const colors = ['#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b']
  const W = 420
  const H = 300
  const pad = { l: 70, r: 20, t: 40, b: 50 }
  const panel = (x0: number, title: string, unit: string, key: 'tput' | 'lat') => {
    const all = Object.values(results).flatMap((r) => r[key])
    const lo = Math.floor(Math.log10(Math.min(...all)))
    const hi = Math.ceil(Math.log10(Math.max(...all)))
    const px = (i: number) => x0 + pad.l + (i * (W - pad.l - pad.r)) / (labels.length - 1)
    const py = (v: number) => pad.t + ((hi - Math.log10(v)) * (H - pad.t - pad.b)) / Math.max(1, hi - lo)
    const out = [`<text x="${x0 + W / 2}" y="22" text-anchor="middle" font-weight="bold">${title}</text>`]
    for (let e = lo; e <= hi; e++)
      out.push(
        `<line x1="${x0 + pad.l}" x2="${x0 + W - pad.r}" y1="${py(10 ** e)}" y2="${py(10 ** e)}" stroke="#ddd"/>`,
        `<text x="${x0 + pad.l - 6}" y="${py(10 ** e) + 4}" text-anchor="end" font-size="11">1e${e}</text>`,
      )
    labels.forEach((l, i) =>
      out.push(`<text x="${px(i)}" y="${H - pad.b + 18}" text-anchor="middle" font-size="11">${l}</text>`),
    )
    out.push(
      `<text x="${x0 + 16}" y="${H / 2}" transform="rotate(-90 ${x0 + 16} ${H / 2})" text-anchor="middle" font-size="11">${unit}</text>`,
    )
    Object.entries(results).forEach(([name, r], k) => {
      const pts = r[key].map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ')
      out.push(`<polyline fill="none" stroke="${colors[k]}" stroke-width="2" points="${pts}"/>`)
      r[key].forEach((v, i) => out.push(`<circle cx="${px(i)}" cy="${py(v)}" r="3" fill="${colors[k]}"/>`))
    })
    return out.join('\n')
  }
  const legend = Object.keys(results)
    .map((name, k) => {
      const x = 80 + (k % 3) * 260
      const y = H + 2 + Math.floor(k / 3) * 20
      return `<rect x="${x}" y="${y}" width="12" height="12" fill="${colors[k]}"/><text x="${x + 16}" y="${y + 10}" font-size="12">${name}</text>`
    })
    .join('\n')
  const rowsOfLegend = Math.ceil(Object.keys(results).length / 3)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 4 + 20 * rowsOfLegend}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'Throughput between 2 processes (higher is better)', 'messages / s', 'tput')}
${panel(W, 'Round trip between 2 processes (lower is better)', 'µs', 'lat')}
${legend}
</svg>
`
}
