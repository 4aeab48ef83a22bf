// Round-trip latency of a wake between two processes (and, for MessagePort, two worker threads):
// mapshare wait/notify and waitAsync against a C futex ping-pong (the floor), child_process IPC
// (process.send) and MessagePort. Returns table rows; used by bench.ts.
import { execFileSync, fork, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'
import { MmapFile } from '../index.js'

const here = path.dirname(fileURLToPath(import.meta.url))

async function mapshare(file: string, rounds: number, mode: 'sync' | 'async'): Promise<number> {
  const region = MmapFile.open(file, { mode: 'r+' })
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

export async function wakeRows(dataDir: string, quick: boolean) {
  const rounds = quick ? 5_000 : 50_000
  const file = path.join(dataDir, 'wake.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const cBin = path.join(dataDir, 'futex_pingpong')
  execFileSync('cc', ['-O2', '-o', cBin, path.join(here, 'futex_pingpong.c')])
  const c = Number(execFileSync(cBin, [String(rounds)], { encoding: 'utf8' }).trim())
  const sync = await mapshare(file, rounds, 'sync')
  const asyncNs = await mapshare(file, Math.min(rounds, 20_000), 'async')
  const send = await ipc(Math.min(rounds, 20_000))
  const port = await messagePort(Math.min(rounds, 20_000))
  const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`
  return [
    { case: 'wake round trip: C futex ping-pong, 2 processes (floor)', value: us(c), ratio: '1.00' },
    {
      case: 'wake round trip: mapshare wait/notify, 2 processes',
      value: us(sync),
      ratio: (sync / c).toFixed(2),
    },
    {
      case: 'wake round trip: mapshare waitAsync/notify, 2 processes',
      value: us(asyncNs),
      ratio: (asyncNs / c).toFixed(2),
    },
    {
      case: 'wake round trip: process.send (child_process IPC)',
      value: us(send),
      ratio: (send / c).toFixed(2),
    },
    {
      case: 'wake round trip: MessagePort between 2 worker threads',
      value: us(port),
      ratio: (port / c).toFixed(2),
    },
  ]
}
