// Modbus TCP polling: registers/s read from one server (pymodbus, scripts/peers/modbus_server.py, in its own
// process) by our connector, beside bare read loops on the same server in the same run.
//
//   npx node bench/modbus-poll.ts [--seconds 5] [--rounds 3] [--registers 1000]
//
// Ours: `ModbusConnector` with a map of `--registers` uint16 fields (addresses 0..N-1, one unit) and a poll interval
// of 1 ms, i.e. polling back to back: the planner makes ⌈N/125⌉ reads of 125 registers, each answer is decoded into
// N values and the changed ones published to a counting context (through our client, a thin layer over
// modbus-serial). Anchors: (1) modbus-serial's bare read loop (`connectTCP`, `readHoldingRegisters`, 125 registers a
// request, the same addresses) — what the library, the protocol and the server give one connection with nothing done
// with the answers, as the issue asks; (2) pymodbus's own async client in a bare loop (another library, a Python
// process) reading the same requests. One request in flight per connection in every case.
// Rounds alternate the cases; medians reported, with this process's CPU per register.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import os from 'node:os'
import { parseArgs } from 'node:util'
import type { ModbusRTU as ModbusRTUType } from 'modbus-serial/ModbusRTU.js'
import { modbusSpec } from '../packages/connector-modbus/src/index.ts'
import type { ModbusConnector } from '../packages/connector-modbus/src/modbus-connector.ts'
import { deviceConfig } from '../packages/connectors/src/testing/device-config.ts'
import { install, PYMODBUS_VERSION, startModbusServer } from '../scripts/modbus.ts'
import { countingContext } from './lib/counting-context.ts'
import { medianOf } from './lib/stats.ts'

// modbus-serial is CommonJS, a dependency of connector-modbus: loaded from there.
const ModbusRTU = createRequire(new URL('../packages/connector-modbus/package.json', import.meta.url))(
  'modbus-serial',
) as typeof ModbusRTUType

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    registers: { type: 'string', default: '1000' },
  },
})
const SECONDS = Number(args.seconds)
const ROUNDS = Number(args.rounds)
const N = Number(args.registers)

interface Run {
  readonly registersPerSecond: number
  readonly cpuUsPerRegister: number | null
}

async function measure(start: () => Promise<() => number>, stop: () => Promise<void>): Promise<Run> {
  const count = await start()
  await new Promise((r) => setTimeout(r, 1000)) // warm-up
  const c0 = count()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  const n = count() - c0
  const dt = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  await stop()
  return { registersPerSecond: n / dt, cpuUsPerRegister: (cpu.user + cpu.system) / n }
}

async function ours(host: string, port: number): Promise<Run> {
  const registers = Object.fromEntries(Array.from({ length: N }, (_, i) => [`r${i}`, { address: i }]))
  const block = { type: 'modbus', host, port, poll_interval_ms: 1, registers }
  const connector = modbusSpec.create(
    modbusSpec.parse(deviceConfig(block, { uuid: 'BENCH-PLC' })),
    {},
  ) as ModbusConnector
  const controller = new AbortController()
  let published = 0
  return measure(
    async () => {
      await connector.start(
        countingContext({
          signal: controller.signal,
          publish: (_uuid, obs) => {
            published += obs.length
          },
        }),
      )
      return () => connector.stats().registers
    },
    async () => {
      controller.abort()
      await connector.stop()
      if (published === 0) throw new Error('the connector published nothing')
    },
  )
}

/** modbus-serial's bare read loop: its own TCP connection, unit 1, the same reads, the answers dropped. */
async function bareLibrary(host: string, port: number): Promise<Run> {
  const client = new ModbusRTU()
  let registers = 0
  let running = true
  let loop: Promise<void> = Promise.resolve()
  return measure(
    async () => {
      await client.connectTCP(host, { port })
      client.setID(1)
      client.setTimeout(5000)
      loop = (async () => {
        for (let a = 0; running; a = a + 125 >= N ? 0 : a + 125) {
          const count = Math.min(125, N - a)
          await client.readHoldingRegisters(a, count)
          registers += count
        }
      })()
      return () => registers
    },
    async () => {
      running = false
      await loop
      await new Promise<void>((resolve) => client.destroy(() => resolve()))
    },
  )
}

/** pymodbus's client in a bare loop, in its own Python process; it prints registers read per second. */
async function pymodbusClient(python: string, host: string, port: number): Promise<Run> {
  const code = `
import asyncio, sys, time
from pymodbus.client import AsyncModbusTcpClient
async def main():
    c = AsyncModbusTcpClient("${host}", port=${port})
    await c.connect()
    n = ${N}
    async def loop(seconds):
        regs, a, t0 = 0, 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            count = min(125, n - a)
            r = await c.read_holding_registers(a, count=count, device_id=1)
            assert not r.isError()
            regs += count
            a = 0 if a + 125 >= n else a + 125
        return regs / (time.perf_counter() - t0)
    await loop(1.0)
    print(await loop(${SECONDS}))
    c.close()
asyncio.run(main())
`
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(python, ['-c', code], { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    let err = ''
    child.stdout.on('data', (d) => {
      text += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('exit', (c) => (c === 0 ? resolve(text) : reject(new Error(`pymodbus client failed: ${err}`))))
  })
  return { registersPerSecond: Number(out.trim().split('\n').at(-1)), cpuUsPerRegister: null }
}

const python = await install()
const server = await startModbusServer({ units: '1', args: ['--tick', '0.01'] })
console.log(
  `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, pymodbus ${PYMODBUS_VERSION} server ` +
    `in its own process; ${N} registers (${Math.ceil(N / 125)} reads of ≤ 125); ${ROUNDS} rounds of ${SECONDS} s per ` +
    `case, cases alternating (+1 s warm-up); load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
)
const cases = [
  {
    name: 'anchor: bare loop, modbus-serial client     ',
    run: () => bareLibrary(server.host, server.port),
    runs: [] as Run[],
  },
  {
    name: 'anchor: bare loop, pymodbus client (Python) ',
    run: () => pymodbusClient(python, server.host, server.port),
    runs: [] as Run[],
  },
  {
    name: 'ours: ModbusConnector polling the map       ',
    run: () => ours(server.host, server.port),
    runs: [] as Run[],
  },
]
try {
  for (let round = 0; round < ROUNDS; round++) for (const c of cases) c.runs.push(await c.run())
} finally {
  await server.stop()
}
const figure = (c: (typeof cases)[number]) => medianOf(c.runs.map((r) => r.registersPerSecond))
for (const c of cases) {
  const cpu = c.runs.map((r) => r.cpuUsPerRegister).filter((x): x is number => x !== null)
  console.log(
    `${c.name}: ${figure(c).toFixed(0)} registers/s median of ${c.runs.map((r) => r.registersPerSecond.toFixed(0)).join(', ')}` +
      (cpu.length ? ` (client CPU ${medianOf(cpu).toFixed(3)} µs/register)` : ''),
  )
}
const [bare, py, mine] = cases as [(typeof cases)[0], (typeof cases)[0], (typeof cases)[0]]
console.log(
  `ours / bare loop (modbus-serial): ${(figure(mine) / figure(bare)).toFixed(2)}; ours / pymodbus client: ${(figure(mine) / figure(py)).toFixed(2)}`,
)
