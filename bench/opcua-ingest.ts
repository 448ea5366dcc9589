// OPC UA ingest: data changes/s taken in on one connection with N monitored items (default 10 000), through the
// OPC UA connector (`connector.type: opcua`: subscription, monitored-item group, DataValue → observation,
// `ctx.publish`) into a counting context, beside a same-run anchor: a bare node-opcua client subscription on the
// same items of the same server, doing nothing but counting its data-change notifications.
//
// The server is node-opcua's own (bench/lib/opcua-bench-server.ts), run as a child process in its own process group
// so that it does not share an event loop with the client being measured: N Double variables, every one changed
// every PERIOD ms (default 100: N × 10 changes/s offered). Publishing interval 100 ms, sampling interval 0 (on
// change), queue size 1. Each case: connect and subscribe, warm up WARM s, count for MEASURE s.
//   npx node bench/opcua-ingest.ts [items] [period ms] [measure s]
import { type ChildProcess, spawn } from 'node:child_process'
import fsSync from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { deviceConfig } from '@openfactory/connectors/testing'
import { OPCUACertificateManager } from 'node-opcua-certificate-manager'
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  ClientSubscription,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
} from 'node-opcua-client'
import { opcuaSpec } from '../packages/connector-opcua/src/index.ts'
import { countingContext } from './lib/counting-context.ts'

const ITEMS = Number(process.argv[2] ?? 10_000)
const PERIOD_MS = Number(process.argv[3] ?? 100)
const MEASURE_S = Number(process.argv[4] ?? 10)
const WARM_S = 3
const PORT = 4898
const PUBLISHING_MS = 100

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-bench-opcua-'))
let server: ChildProcess | undefined

function stopServer(): void {
  if (server?.pid && server.exitCode === null) {
    try {
      process.kill(-server.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
}
process.on('exit', () => {
  stopServer()
  fsSync.rmSync(tmp, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    stopServer()
    process.exit(130)
  })
}

async function startServer(): Promise<string> {
  const script = new URL('./lib/opcua-bench-server.ts', import.meta.url).pathname
  const child = spawn(
    process.execPath,
    [script, String(PORT), String(ITEMS), String(PERIOD_MS), path.join(tmp, 'server-pki')],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  server = child
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /ready (\S+)/.exec(out)
      if (m) resolve(m[1] as string)
    })
    child.once('exit', (code) => reject(new Error(`the bench server exited (${code}): ${out}`)))
  })
}

/** Counts for MEASURE_S seconds after WARM_S seconds of warm-up; changes/s. */
async function measure(count: () => number): Promise<number> {
  await new Promise((r) => setTimeout(r, WARM_S * 1000))
  const c0 = count()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, MEASURE_S * 1000))
  return ((count() - c0) / (performance.now() - t0)) * 1000
}

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

interface Result {
  readonly perSec: number
  /** This process's CPU per second of the measure (ms/s: 1000 is one core busy). */
  readonly cpu: number
}

async function withCpu(run: () => Promise<number>): Promise<Result> {
  const c0 = cpuMs()
  const t0 = performance.now()
  const perSec = await run()
  return { perSec, cpu: ((cpuMs() - c0) / (performance.now() - t0)) * 1000 }
}

async function anchor(endpoint: string): Promise<Result> {
  const clientCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(tmp, 'anchor-pki'),
    automaticallyAcceptUnknownCertificate: true,
  })
  const client = OPCUAClient.create({
    applicationName: 'OpenFactoryBench',
    clientCertificateManager,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 3, initialDelay: 200 },
  })
  await client.connect(endpoint)
  const session = await client.createSession()
  try {
    const sub = ClientSubscription.create(session, {
      requestedPublishingInterval: PUBLISHING_MS,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 60,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 1,
    })
    await new Promise<void>((resolve) => sub.once('started', () => resolve()))
    const items = Array.from({ length: ITEMS }, (_, i) => ({ nodeId: `ns=1;s=V${i}`, attributeId: AttributeIds.Value }))
    const group = ClientMonitoredItemGroup.create(
      sub,
      items,
      { samplingInterval: 0, queueSize: 1, discardOldest: true },
      TimestampsToReturn.Both,
    )
    let changes = 0
    group.on('changed', () => {
      changes++
    })
    await new Promise<void>((resolve) => group.once('initialized', () => resolve()))
    const result = await withCpu(() => measure(() => changes))
    await sub.terminate()
    return result
  } finally {
    await session.close()
    await client.disconnect()
    await clientCertificateManager.dispose()
  }
}

async function ours(endpoint: string): Promise<Result> {
  const variables: Record<string, { node_id: string; tag: string }> = {}
  for (let i = 0; i < ITEMS; i++) variables[`v${i}`] = { node_id: `ns=1;s=V${i}`, tag: 'Sample' }
  const block = {
    type: 'opcua',
    server: {
      uri: endpoint,
      subscription: { publishing_interval: PUBLISHING_MS, queue_size: 1, sampling_interval: 0 },
    },
    variables,
  }
  const connector = opcuaSpec.create(opcuaSpec.parse(deviceConfig(block, { uuid: 'BENCH-OPCUA' })), {
    pkiDir: path.join(tmp, 'client-pki'),
  })
  let observations = 0
  let available = false
  const noop = (): void => {}
  const ctx = countingContext({
    logger: { debug: noop, info: noop, warn: noop, error: (m, f) => console.error(m, f ?? '') },
    publish: (_uuid, obs) => {
      for (const o of obs) if (typeof o.value === 'number') observations++
    },
    setAvailable: (_uuid, a) => {
      available = a
    },
    fail: (err) => console.error('connector failed', err),
  })

  await connector.start(ctx)
  try {
    if (!available) throw new Error('the connector did not come up')
    return await withCpu(() => measure(() => observations))
  } finally {
    await connector.stop()
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
try {
  const endpoint = await startServer()
  console.log(
    `OPC UA ingest — ${fmt(ITEMS)} monitored items on one connection, every item changed every ${PERIOD_MS} ms (${fmt((ITEMS * 1000) / PERIOD_MS)} changes/s offered); publishing ${PUBLISHING_MS} ms, sampling 0, queue 1; warm-up ${WARM_S} s, measured ${MEASURE_S} s`,
  )
  console.log(
    `server: node-opcua-server in a child process; Node ${process.version}, ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  const a = await anchor(endpoint)
  const o = await ours(endpoint)
  const a2 = await anchor(endpoint)
  const best = a.perSec >= a2.perSec ? a : a2
  // CPU of this process per change taken in: what the client costs, whatever the server can offer.
  const usPer = (r: Result) => (r.cpu * 1000) / r.perSec
  const row = (label: string, r: Result, ratio: string) =>
    console.log(
      `${label.padEnd(58)} ${fmt(r.perSec).padStart(9)} changes/s  cpu ${fmt(r.cpu).padStart(4)} ms/s  ${usPer(r).toFixed(2)} µs/change  ${ratio}`,
    )
  row('anchor: bare node-opcua subscription, counting (first)', a, '')
  row('anchor: bare node-opcua subscription, counting (after)', a2, '')
  row(
    'ours: OpcuaConnector → observations → ctx.publish',
    o,
    `ratio ${(o.perSec / best.perSec).toFixed(2)}, cpu ratio ${(usPer(o) / usPer(best)).toFixed(2)}`,
  )
} finally {
  stopServer()
  await fs.rm(tmp, { recursive: true, force: true })
}
