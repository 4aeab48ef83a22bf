// Round-trip latency of a wake between two processes (and, for MessagePort, two worker threads):
// mapshare wait/notify and waitAsync against a C futex ping-pong (the floor), child_process IPC
// (process.send) and MessagePort. Returns table rows; used by bench.ts.
import { execFileSync, fork, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'
import { MmapFile } from 'mapshare'
import { median } from './median.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

async function mapshare(file: string, rounds: number, mode: 'sync' | 'async'): Promise<number> {
  const region = MmapFile.open(file, { flags: 'r+' })
  region.store(0, 0)
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv.filter((a) => a !== '--expose-gc'),
      path.join(here, 'pong.ts'),
      file,
      String(rounds),
      mode,
    ],
    {
      stdio: 'inherit',
    },
  )
  const done = new Promise((r) => child.on('close', r))
  await new Promise((r) => setTimeout(r, 300)) // let the child start and block
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) {
    region.store(0, 2 * i + 1)
    region.notify(0, 1)
    for (;;) {
      const seen = region.load(0)
      if (seen === 2 * i + 2) break
      if (mode === 'async') await region.waitAsync(0, seen, { timeout: 10_000 })
      else region.wait(0, seen, 10_000)
    }
  }
  const ns = Number(process.hrtime.bigint() - t0) / rounds
  await done
  region.close()
  return ns
}

async function ipc(rounds: number): Promise<number> {
  const child = fork(path.join(here, 'pong.ts'), ['-', String(rounds), 'ipc'], {
    execArgv: process.execArgv.filter((a) => a !== '--expose-gc'),
  })
  await new Promise((r) => setTimeout(r, 300))
  let t0 = 0n
  const ns = await new Promise<number>((resolve) => {
    child.on('message', (m: number) => {
      if (m >= 2 * rounds) resolve(Number(process.hrtime.bigint() - t0) / rounds)
      else child.send(m + 1)
    })
    t0 = process.hrtime.bigint()
    child.send(1)
  })
  await new Promise((r) => child.on('exit', r))
  return ns
}

async function messagePort(rounds: number): Promise<number> {
  const { port1, port2 } = new MessageChannel()
  const code = `
    const { workerData } = require('node:worker_threads')
    const { port, rounds, role } = workerData
    let t0
    port.on('message', (m) => {
      if (role === 'pong') { port.postMessage(m + 1); if (m + 1 >= 2 * rounds) port.close() }
      else if (m >= 2 * rounds) { port.postMessage(-Number(process.hrtime.bigint() - t0)); port.close() }
      else port.postMessage(m + 1)
    })
    if (role === 'ping') { t0 = process.hrtime.bigint(); port.postMessage(1) }`
  const { port1: res1, port2: res2 } = new MessageChannel()
  const pong = new Worker(code, {
    eval: true,
    workerData: { port: port2, rounds, role: 'pong' },
    transferList: [port2],
  })
  const ping = new Worker(
    code.replace(
      'port.postMessage(-Number(process.hrtime.bigint() - t0))',
      'workerData.result.postMessage(Number(process.hrtime.bigint() - t0))',
    ),
    {
      eval: true,
      workerData: { port: port1, rounds, role: 'ping', result: res2 },
      transferList: [port1, res2],
    },
  )
  const total = await new Promise<number>((resolve) => res1.once('message', resolve))
  res1.close()
  await Promise.all([ping.terminate(), pong.terminate()])
  return total / rounds
}

/** How long mapshare's wait() watches the word before it sleeps (mapshare-core's `sync::SPIN`). */
const SPIN_US = 20

/** CPU time (user + system, this process) per wait that nobody wakes (1 ms timeout): the price of
 * the watch before sleeping. */
async function idleWaitCpu(file: string, n: number) {
  const region = MmapFile.open(file, { flags: 'r+' })
  region.store(0, 0)
  const i32 = new Int32Array(new SharedArrayBuffer(4))
  const cpu = async (fn: () => unknown) => {
    const c0 = process.cpuUsage()
    for (let i = 0; i < n; i++) await fn()
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / n
  }
  const atomicsWait = await cpu(() => Atomics.wait(i32, 0, 0, 1))
  const sync = await cpu(() => region.wait(0, 0, 1))
  const timer = await cpu(() => new Promise((r) => setTimeout(r, 1)))
  const async = await cpu(() => region.waitAsync(0, 0, { timeout: 1 }))
  region.close()
  return { atomicsWait, sync, timer, async }
}

/**
 * Every transport runs `reps` times, interleaved (C, wait, waitAsync, process.send, MessagePort, C,
 * ...), so that a change in the machine's load hits them alike; each row gives the median time, and
 * its ratio is the median over the repetitions of (this run / the C run of the same repetition).
 * Wake-ups between idle CPUs of a virtual machine are slow and vary (the floor moves between ~5 and
 * ~50 µs with where the scheduler puts the two processes), hence the pairing.
 */
/**
 * The wake rows in one of this machine's two regimes: `idle` (CPUs asleep between wakes: a wake costs
 * an idle CPU's wake-up) or `busy` (every CPU but one kept busy by a spinning process at normal
 * priority, so a woken thread is scheduled at once).
 */
export async function wakeRows(dataDir: string, quick: boolean, regime: 'idle' | 'busy' = 'idle') {
  const spinners =
    regime === 'busy'
      ? Array.from({ length: Math.max(1, os.availableParallelism() - 1) }, () =>
          spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
        )
      : []
  try {
    return await measure(dataDir, quick, regime)
  } finally {
    for (const s of spinners) s.kill('SIGKILL')
  }
}

async function measure(dataDir: string, quick: boolean, regime: 'idle' | 'busy') {
  const reps = quick ? 1 : 5
  const rounds = quick ? 5_000 : 10_000
  const file = path.join(dataDir, 'wake.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const cBin = path.join(dataDir, 'futex_pingpong')
  execFileSync('cc', ['-O2', '-o', cBin, path.join(here, 'futex_pingpong.c')])
  const spinUs = String(SPIN_US)
  const runs = {
    c: [] as number[],
    cSpin: [] as number[],
    sync: [] as number[],
    async: [] as number[],
    send: [] as number[],
    port: [] as number[],
  }
  for (let rep = 0; rep < reps; rep++) {
    runs.c.push(Number(execFileSync(cBin, [String(rounds)], { encoding: 'utf8' }).trim()))
    runs.cSpin.push(Number(execFileSync(cBin, [String(rounds), spinUs], { encoding: 'utf8' }).trim()))
    runs.sync.push(await mapshare(file, rounds, 'sync'))
    runs.async.push(await mapshare(file, rounds, 'async'))
    runs.send.push(await ipc(rounds))
    runs.port.push(await messagePort(rounds))
  }
  const tag = regime === 'busy' ? ' [busy CPUs]' : ' [idle CPUs]'
  const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`
  const ratio = (xs: number[], base: number[]) => median(xs.map((x, i) => x / base[i])).toFixed(2)
  const row = (name: string, xs: number[]) => ({
    case: `wake round trip${tag}: ${name}`,
    value: us(median(xs)),
    ratio: ratio(xs, runs.c),
  })
  return [
    row('C futex ping-pong, 2 processes (floor)', runs.c),
    row(`C futex ping-pong watching the word ${SPIN_US} µs before sleeping, as wait() does`, runs.cSpin),
    row('mapshare wait/notify, 2 processes', runs.sync),
    {
      case: `wake round trip${tag}: wait/notify / C (goal <= 1.5)`,
      value: '',
      ratio: ratio(runs.sync, runs.c),
    },
    {
      case: `wake round trip${tag}: wait/notify / C with the same ${SPIN_US} µs watch (goal <= 1.5)`,
      value: '',
      ratio: ratio(runs.sync, runs.cSpin),
    },
    row('mapshare waitAsync/notify, 2 processes', runs.async),
    row('process.send (child_process IPC)', runs.send),
    row('MessagePort between 2 worker threads', runs.port),
    {
      case: `wake round trip${tag}: waitAsync / MessagePort (goal <= 1)`,
      value: '',
      ratio: ratio(runs.async, runs.port),
    },
    {
      case: `wake round trip${tag}: waitAsync / process.send (goal <= 0.5)`,
      value: '',
      ratio: ratio(runs.async, runs.send),
    },
    ...(regime === 'idle' ? await cpuRows(file, quick) : []),
  ]
}

/** CPU time of waits nobody wakes, against their floors (measured once, in the idle regime). */
async function cpuRows(file: string, quick: boolean) {
  const idle = await idleWaitCpu(file, quick ? 200 : 1000)
  return [
    {
      case: 'CPU per wait nobody wakes (1 ms timeout): Atomics.wait (floor)',
      value: `${idle.atomicsWait.toFixed(1)} µs`,
      ratio: '1.00',
    },
    {
      case: 'CPU per wait nobody wakes (1 ms timeout): region.wait (with its watch)',
      value: `${idle.sync.toFixed(1)} µs`,
      ratio: (idle.sync / idle.atomicsWait).toFixed(2),
    },
    {
      case: 'CPU per async wait nobody wakes (1 ms timeout): setTimeout promise (floor)',
      value: `${idle.timer.toFixed(1)} µs`,
      ratio: '1.00',
    },
    {
      case: 'CPU per async wait nobody wakes (1 ms timeout): region.waitAsync',
      value: `${idle.async.toFixed(1)} µs`,
      ratio: (idle.async / idle.timer).toFixed(2),
    },
  ]
}
