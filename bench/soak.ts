// Plant-sized soak (issue 18 item 5): `ofa up` carrying 10,000 simulated assets × 20 items at 20,000
// observations/s for 30 minutes, with 100 WebSocket subscribers and REST readers, sampled every 10 s into a CSV and a
// plotted PNG. The bar: flat memory, and no observation lost. Not part of `npm test`.
//
//   npx node bench/soak.ts [--minutes 30] [--rate 20000] [--assets 10000] [--items 20] [--subscribers 100]
//                          [--readers 20] [--kafka | --bootstrap HOST:PORT] [--out bench/soak-embedded]
//                          [--drain-minutes 15] [--profile DIR]
//   npx node bench/soak.ts --replot bench/soak-embedded.csv --title T --subtitle S   (the PNG again, from the CSV)
//
// Processes, each in its own process group (stopped by group at the end):
// - Mosquitto (scripts/mosquitto.ts, broker `soak-<run>`, deleted after) — the path into the factory. One MQTT device
//   (`connector.type: mqtt`, QoS 1 on a persistent session: the connector acknowledges a message only once its
//   observation is handed to the supervisor) subscribes to `soak/<run>/{asset}/iNN`, one topic per item: the
//   `{asset}` level makes the 10,000 assets (`S<run>-aNNNNN`) from the topics, so the factory declaration stays
//   one device. The factory (factory.yaml + devices/soak.yml) is generated into a temp dir.
// - `ofa up` (packages/cli/bin/ofa.js under this Node 24, with the launcher's --max-semi-space-size=8), on the
//   embedded log in the temp dir, or with `--bootstrap` on Kafka: `--kafka` starts scripts/kafka's cluster `soak`
//   (one node; stopped and deleted after), `--bootstrap HOST:PORT` uses a running one.
// - The generator: one mqtt.js client (MQTT 3.1.1) publishing at QoS 1 at `--rate`, message k to asset k mod A,
//   item ⌊k / A⌋ mod I (every item once per A×I/rate seconds). The payload is a JSON number, the creation time
//   (`process.hrtime`, µs: CLOCK_MONOTONIC, shared by every process of the machine). A message counts as sent once
//   the broker acknowledged it (PUBACK); at most 20,000 await their PUBACK — past that the generator waits, and
//   how far it is behind the schedule is sampled (`gen_behind`).
// - The clients: `--subscribers` WebSocket connections to /api/ws, subscriber s subscribed (by `assets`) to the
//   assets a ≡ s (mod subscribers), so together they receive every observation once; latency = receive time −
//   the value (generation → WebSocket receive, through broker, connector, supervisor, log, state, hub). And REST
//   readers: `--readers` GET /api/assets/{uuid} per second in total, random assets, at most 8 in flight.
// - This process samples every 10 s: /metrics of `ofa up` (prom-client's process_resident_memory_bytes,
//   nodejs_heap_size_used/total_bytes, nodejs_eventloop_lag_p99/max_seconds — prom-client resets its event-loop
//   histogram at each scrape, so they are per 10 s window — process_cpu_seconds_total, and the supervisor's
//   buffered / dropped records), the log's size on disk (`du` of the data dir, or of the Kafka node's data dir),
//   the latency percentiles of the window from the clients, the generator's counts, how far the subscribers are
//   behind the generator (`ws_backlog`: acknowledged by the broker, not received yet), the broker's own $SYS counts
//   (messages it holds — the factory's session queue among them — and messages it dropped) and the 1-minute load.
//
// At the end the generator stops and reports how many messages of each asset/item the broker acknowledged; the
// clients drain (until every expected update came, or nothing came for 15 s, at most `--drain-minutes`, default
// 15); `ofa up` is stopped (SIGTERM to its group: clean stop); then every record of `ofa_assets` is read back
// through the log API (the embedded log read-only, or a Kafka client) and the numeric observations of each
// asset/item counted by value (the creation time, unique per item): lost = Σ (sent − distinct values logged),
// duplicated = Σ (records − distinct values), so that a record written twice cannot hide one lost. The WebSocket
// side is counted per subscriber. A message the broker still held for the factory, or dropped (its queue full),
// counts as lost here: the summary gives the broker's counts, so that can be told from a loss in OpenFactory.
// `--profile DIR` runs `ofa up` with --cpu-prof (written to DIR at its clean stop) and --heapsnapshot-signal=SIGUSR2.
//
// Outputs: <out>.csv (one row per 10 s), <out>.png (time on x; panels RSS/heap MiB, latency p99 ms, event-loop
// delay ms, log size GiB; rendered from SVG by Debian's Chromium through playwright-core, scripts/chromium.ts), and
// a summary line: RSS min/max/slope over the last 20 minutes (the last two thirds of a shorter run), p99 max, lost.
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { openKafkaLog } from '@openfactory/log-kafka'
import { TOPICS } from '@openfactory/model'
import mqtt from 'mqtt'
import { chromium } from 'playwright-core'
import { WebSocket } from 'ws'
import { CHROMIUM_FLAGS, ensureChromium } from '../scripts/chromium.ts'
import * as kafka from '../scripts/kafka.ts'
import * as mosquitto from '../scripts/mosquitto.ts'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '20000' },
    assets: { type: 'string', default: '10000' },
    items: { type: 'string', default: '20' },
    subscribers: { type: 'string', default: '100' },
    readers: { type: 'string', default: '20' },
    bootstrap: { type: 'string' },
    kafka: { type: 'boolean', default: false },
    out: { type: 'string' },
    profile: { type: 'string' },
    sample: { type: 'string', default: '10' },
    'drain-minutes': { type: 'string', default: '15' },
    role: { type: 'string' },
    config: { type: 'string' },
    replot: { type: 'string' },
    title: { type: 'string', default: '' },
    subtitle: { type: 'string', default: '' },
  },
})

const ROOT = path.resolve(import.meta.dirname, '..')
const OFA_BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'ofa.js')
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** What the main process hands its two children (as JSON in `--config`). */
interface RunConfig {
  readonly run: string
  readonly brokerUrl: string
  readonly apiUrl: string
  readonly rate: number
  readonly assets: number
  readonly items: number
  readonly subscribers: number
  readonly readers: number
}

const assetName = (a: number) => `a${String(a).padStart(5, '0')}`
const itemId = (i: number) => `i${String(i).padStart(2, '0')}`
const assetUuid = (run: string, a: number) => `S${run}-${assetName(a)}`

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/** Answers one IPC request of the parent (`{req, id}`) with `{id, ...answer}`. */
function serve(handler: (req: string) => Promise<Record<string, unknown>> | Record<string, unknown>): void {
  // The main process gone (stopped, crashed): so are we.
  process.on('disconnect', () => process.exit(0))
  process.on('message', async (m: { req: string; id: number }) => {
    const answer = await handler(m.req)
    process.send?.({ id: m.id, ...answer })
  })
}

// ---- generator process ---------------------------------------------------------------------------------------

async function generator(cfg: RunConfig): Promise<void> {
  const client = await mqtt.connectAsync(cfg.brokerUrl, {
    clientId: `soak-gen-${cfg.run}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
  })
  const n = cfg.assets * cfg.items
  const acked = new Uint32Array(n)
  const topics = Array.from({ length: n }, (_, k) => {
    const a = k % cfg.assets
    const i = Math.floor(k / cfg.assets) % cfg.items
    return `soak/${cfg.run}/${assetName(a)}/${itemId(i)}`
  })
  const MAX_INFLIGHT = 20_000
  let sent = 0
  let ackedTotal = 0
  let failed = 0
  let due = 0
  let running = false
  let t0 = 0
  let timer: NodeJS.Timeout | undefined
  const tick = () => {
    due = Math.floor(((performance.now() - t0) / 1000) * cfg.rate)
    while (sent < due && sent - ackedTotal - failed < MAX_INFLIGHT) {
      const k = sent % n
      sent++
      client.publish(topics[k] as string, String(nowUs()), { qos: 1 }, (err) => {
        if (err) failed++
        else {
          ackedTotal++
          acked[k] = (acked[k] as number) + 1
        }
      })
    }
  }
  serve(async (req) => {
    if (req === 'start') {
      running = true
      t0 = performance.now()
      timer = setInterval(tick, 2)
      return {}
    }
    if (req === 'stats') return { sent, acked: ackedTotal, failed, behind: running ? due - sent : 0 }
    if (req === 'stop') {
      running = false
      clearInterval(timer)
      const until = Date.now() + 60_000
      while (ackedTotal + failed < sent && Date.now() < until) await sleep(50)
      await client.endAsync()
      return { sent, acked: ackedTotal, failed, counts: Buffer.from(acked.buffer).toString('base64') }
    }
    throw new Error(`generator: unknown request ${req}`)
  })
  process.send?.({ ready: true })
}

// ---- clients process (WebSocket subscribers, REST readers) ---------------------------------------------------

async function clients(cfg: RunConfig): Promise<void> {
  const wsUrl = `${cfg.apiUrl.replace(/^http/, 'ws')}/api/ws`
  const received = new Float64Array(cfg.subscribers)
  let latencies: number[] = []
  let wsErrors = 0
  let closed = 0
  const sockets: WebSocket[] = []
  await Promise.all(
    Array.from({ length: cfg.subscribers }, async (_, s) => {
      const assets: string[] = []
      for (let a = s; a < cfg.assets; a += cfg.subscribers) assets.push(assetUuid(cfg.run, a))
      const socket = new WebSocket(wsUrl)
      sockets.push(socket)
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.on('message', (data) => {
          const m = JSON.parse(data.toString())
          if (m.kind === 'update') {
            if (typeof m.data.value === 'number') {
              received[s] = (received[s] as number) + 1
              latencies.push((nowUs() - m.data.value) / 1000)
            }
          } else if (m.kind === 'snapshot') resolve()
          else if (m.kind === 'error') {
            wsErrors++
            process.stderr.write(`subscriber ${s}: ${JSON.stringify(m.error)}\n`)
          }
        })
        socket.on('close', () => closed++)
        socket.once('open', () => socket.send(JSON.stringify({ op: 'subscribe', id: `s${s}`, assets })))
      })
    }),
  )
  let rest: number[] = []
  let restErrors = 0
  let restInFlight = 0
  let restStarted = 0
  const restT0 = performance.now()
  const restTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - restT0) / 1000) * cfg.readers)
    while (restStarted < due && restInFlight < 8) {
      restStarted++
      restInFlight++
      const uuid = assetUuid(cfg.run, Math.floor(Math.random() * cfg.assets))
      const t = performance.now()
      fetch(`${cfg.apiUrl}/api/assets/${uuid}`)
        .then(async (res) => {
          await res.arrayBuffer()
          // 404 until the generator's first message names the asset.
          if (res.status === 200) rest.push(performance.now() - t)
          else if (res.status !== 404) restErrors++
        })
        .catch(() => restErrors++)
        .finally(() => restInFlight--)
    }
    restStarted = Math.max(restStarted, due - cfg.readers) // never more than a second of backlog
  }, 10)
  serve((req) => {
    if (req === 'window') {
      const l = Float64Array.from(latencies).sort()
      const r = Float64Array.from(rest).sort()
      latencies = []
      rest = []
      return {
        received: received.reduce((x, y) => x + y, 0),
        n: l.length,
        p50: percentile(l, 0.5),
        p99: percentile(l, 0.99),
        max: l.length ? l[l.length - 1] : Number.NaN,
        restN: r.length,
        restP99: percentile(r, 0.99),
        restErrors,
        wsErrors,
        closed,
      }
    }
    if (req === 'final') {
      clearInterval(restTimer)
      for (const s of sockets) s.close()
      return { received: Array.from(received), wsErrors, closed }
    }
    throw new Error(`clients: unknown request ${req}`)
  })
  process.send?.({ ready: true })
}

// ---- main process --------------------------------------------------------------------------------------------

/** A child of ours in its own process group, with request/answer over IPC. */
class Child {
  readonly proc: ChildProcess
  #next = 0
  readonly #waiting = new Map<number, (m: Record<string, unknown>) => void>()
  readonly ready: Promise<void>

  constructor(role: string, cfg: RunConfig) {
    this.proc = fork(import.meta.filename, ['--role', role, '--config', JSON.stringify(cfg)], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.proc.on('error', () => {}) // a request to a child gone rejects (`request`)
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('exit', (code) => reject(new Error(`${role} exited (${code}) before it was ready`)))
      this.proc.on('message', (m: Record<string, unknown>) => {
        if (m.ready) resolve()
        const w = this.#waiting.get(m.id as number)
        if (w) {
          this.#waiting.delete(m.id as number)
          w(m)
        }
      })
    })
  }

  request<T extends Record<string, unknown>>(req: string): Promise<T> {
    const id = ++this.#next
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, resolve as (m: Record<string, unknown>) => void)
      this.proc.send({ req, id }, (err) => {
        if (err) reject(err)
      })
    })
  }

  kill(): void {
    killGroup(this.proc.pid, 'SIGKILL')
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function writeFactory(dir: string, run: string, brokerUrl: string, assets: number, items: number): string {
  const factory = path.join(dir, 'factory')
  fs.mkdirSync(path.join(factory, 'devices'), { recursive: true })
  fs.writeFileSync(
    path.join(factory, 'factory.yaml'),
    ['# generated by bench/soak.ts', `name: soak-${run}`, 'backbone:', '  type: embedded', ''].join('\n'),
  )
  const topics = Array.from(
    { length: items },
    (_, i) => `        ${itemId(i)}: { topic: 'soak/${run}/{asset}/${itemId(i)}', tag: Value }`,
  )
  fs.writeFileSync(
    path.join(factory, 'devices', 'soak.yml'),
    [
      'devices:',
      '  gateway:',
      `    uuid: S${run}-GW`,
      '    connector:',
      '      type: mqtt',
      `      url: ${brokerUrl}`,
      `      client_id: ofa-soak-${run}`,
      '      topics:',
      ...topics,
      `      assets: { uuid: 'S${run}-{asset}', max: ${assets} }`,
      '',
    ].join('\n'),
  )
  return factory
}

/** prom-client's text exposition as name{labels} → value; labelled series of one name summed under the bare name. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const sp = line.lastIndexOf(' ')
    const key = line.slice(0, sp)
    const value = Number(line.slice(sp + 1))
    const name = key.includes('{') ? key.slice(0, key.indexOf('{')) : key
    m.set(key, value)
    if (name !== key) m.set(name, (m.get(name) ?? 0) + value)
  }
  return m
}

function duBytes(dirs: readonly string[]): number {
  if (dirs.length === 0) return Number.NaN
  const r = spawnSync('du', ['-sb', '--', ...dirs], { encoding: 'utf8' })
  return r.stdout
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + Number(line.split('\t')[0]), 0)
}

interface Row {
  t_s: number
  gen_acked: number
  gen_rate: number
  gen_behind: number
  ws_received: number
  ws_rate: number
  ws_backlog: number
  p50_ms: number
  p99_ms: number
  max_ms: number
  rest_n: number
  rest_p99_ms: number
  rest_errors: number
  rss_mib: number
  heap_used_mib: number
  heap_total_mib: number
  external_mib: number
  el_p99_ms: number
  el_max_ms: number
  cpu_pct: number
  buffered: number
  dropped: number
  log_mib: number
  broker_stored: number
  broker_dropped: number
  load1: number
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length
  if (n < 2) return Number.NaN
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my)
    den += ((xs[i] as number) - mx) ** 2
  }
  return num / den
}

interface Series {
  readonly label: string
  readonly color: string
  readonly key: keyof Row
  readonly scale?: number
}

/** The chart: one panel per quantity, time (minutes) on x, each panel's y from 0 to its maximum. */
function chartSvg(rows: readonly Row[], title: string, subtitle: string): string {
  const W = 1100
  const panelH = 190
  const left = 70
  const right = 20
  const top = 60
  const gap = 40
  const panels: { title: string; unit: string; series: Series[] }[] = [
    {
      title: 'memory of ofa up',
      unit: 'MiB',
      series: [
        { label: 'RSS', color: '#1f77b4', key: 'rss_mib' },
        { label: 'heap total', color: '#2ca02c', key: 'heap_total_mib' },
        { label: 'heap used', color: '#ff7f0e', key: 'heap_used_mib' },
      ],
    },
    {
      title: 'latency, generation → WebSocket receive (per 10 s)',
      unit: 'ms',
      series: [
        { label: 'p99', color: '#d62728', key: 'p99_ms' },
        { label: 'p50', color: '#9467bd', key: 'p50_ms' },
        { label: 'REST p99', color: '#8c564b', key: 'rest_p99_ms' },
      ],
    },
    {
      title: 'event-loop delay of ofa up (per 10 s)',
      unit: 'ms',
      series: [
        { label: 'max', color: '#7f7f7f', key: 'el_max_ms' },
        { label: 'p99', color: '#17becf', key: 'el_p99_ms' },
      ],
    },
    {
      title: 'log size on disk',
      unit: 'GiB',
      series: [{ label: 'log', color: '#bcbd22', key: 'log_mib', scale: 1 / 1024 }],
    },
  ]
  const H = top + panels.length * (panelH + gap) + 10
  const tMax = Math.max(60, ...rows.map((r) => r.t_s)) / 60
  const plotW = W - left - right
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="42" fill="#444">${esc(subtitle)}</text>`,
  ]
  panels.forEach((p, pi) => {
    const y0 = top + pi * (panelH + gap) + 18
    const h = panelH - 18
    const values = p.series.flatMap((s) => rows.map((r) => (r[s.key] as number) * (s.scale ?? 1)))
    const finite = values.filter(Number.isFinite)
    const vMax = niceMax(finite.length ? Math.max(...finite) : 1)
    const x = (t: number) => left + (t / tMax) * plotW
    const y = (v: number) => y0 + h - (v / vMax) * h
    out.push(`<text x="${left}" y="${y0 - 6}" font-weight="bold">${esc(p.title)} (${p.unit})</text>`)
    for (let g = 0; g <= 4; g++) {
      const v = (vMax * g) / 4
      out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`)
      out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`)
    }
    const step = tMax <= 5 ? 1 : tMax <= 20 ? 2 : 5
    for (let t = 0; t <= tMax + 1e-9; t += step) {
      out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${y0}" y2="${y0 + h}" stroke="#eee"/>`)
      out.push(`<text x="${x(t)}" y="${y0 + h + 14}" text-anchor="middle">${t} min</text>`)
    }
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${h}" fill="none" stroke="#888"/>`)
    let lx = W - right - 10
    for (const s of [...p.series].reverse()) {
      const pts = rows
        .filter((r) => Number.isFinite(r[s.key] as number))
        .map((r) => `${x(r.t_s / 60).toFixed(1)},${y((r[s.key] as number) * (s.scale ?? 1)).toFixed(1)}`)
      if (pts.length)
        out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.6" points="${pts.join(' ')}"/>`)
      out.push(`<text x="${lx}" y="${y0 - 6}" text-anchor="end" fill="${s.color}">${esc(s.label)}</text>`)
      lx -= 12 + s.label.length * 7
    }
  })
  out.push('</svg>')
  return out.join('\n')
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1
  const e = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * e) return m * e
  return 10 * e
}

function fmt(v: number): string {
  if (v === 0) return '0'
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

async function renderPng(svg: string, file: string): Promise<void> {
  const executablePath = await ensureChromium()
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true })
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } })
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`)
    await page.locator('svg').screenshot({ path: file })
  } finally {
    await browser.close()
  }
}

/** Every numeric observation of the run's assets on `ofa_assets`, counted per asset/item (index a + A·i). */
/** `{"ID":"`, the start of every record `encodeObservation` writes (model/src/observation.ts). */
const ID_HEAD = Buffer.from('{"ID":"')
/** What follows a two-digit item id: `","VALUE":`. */
const VALUE_HEAD = Buffer.from('","VALUE":')

/**
 * The item of a numeric observation of ours (`{"ID":"iNN","VALUE":<number>`, as `encodeObservation` writes it), read
 * from the bytes: 40 million records are counted at the end of a soak, and JSON.parse of each would take minutes on
 * this loaded machine. -1 for anything else (then parsed, to say what it is).
 */
function numericItem(v: Buffer): number {
  if (v.length < 21 || v.compare(ID_HEAD, 0, 7, 0, 7) !== 0 || v[7] !== 0x69) return -1
  const d1 = (v[8] as number) - 0x30
  const d2 = (v[9] as number) - 0x30
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || v.compare(VALUE_HEAD, 0, 10, 10, 20) !== 0) return -1
  const c = v[20] as number
  return (c >= 0x30 && c <= 0x39) || c === 0x2d ? d1 * 10 + d2 : -1
}

/** Every numeric observation of the run's assets on `ofa_assets`, counted per asset/item (index a + A·i). */
async function countLogged(
  log: EventLog,
  run: string,
  assets: number,
  items: number,
  sent: Uint32Array,
): Promise<{
  counts: Uint32Array
  distinct: Uint32Array
  records: number
  other: Map<string, number>
  ms: number
}> {
  const t0 = performance.now()
  const counts = new Uint32Array(assets * items)
  // The values of each item (the generator's creation times: unique per item, its messages being seconds apart), so
  // that a record written twice cannot hide one lost: room for what was sent and a few more, the rest on the side.
  const SPARE = 8
  const start = new Float64Array(sent.length + 1)
  for (let k = 0; k < sent.length; k++) start[k + 1] = (start[k] as number) + (sent[k] as number) + SPARE
  const values = new Float64Array(start[sent.length] as number)
  const more = new Map<number, number[]>()
  const prefix = `S${run}-a`
  let records = 0
  const other = new Map<string, number>()
  const d = await log.describeTopic(TOPICS.assets)
  // The partitions side by side: reading (a fetch from Kafka, a file read) overlaps the counting of another.
  await Promise.all(
    d.partitionStates.map(async (s) => {
      let offset = s.startOffset
      while (offset < s.endOffset) {
        const batch = await log.read(TOPICS.assets, s.partition, offset, { maxRecords: 50_000, maxBytes: 16 << 20 })
        if (batch.length === 0) break
        for (const r of batch) {
          records++
          const key = r.key?.toString('latin1') ?? ''
          if (!key.startsWith(prefix) || r.value === null) continue
          const a = Number(key.slice(prefix.length))
          const i = numericItem(r.value)
          if (i >= 0 && i < items && a < assets) {
            const k = a + assets * i
            const n = counts[k] as number
            counts[k] = n + 1
            const end = r.value.indexOf(0x2c, 20) // the comma after the value
            const value = Number(r.value.toString('latin1', 20, end < 0 ? r.value.length : end))
            if ((start[k] as number) + n < (start[k + 1] as number)) values[(start[k] as number) + n] = value
            else more.set(k, [...(more.get(k) ?? []), value])
            continue
          }
          const v = JSON.parse(r.value.toString('utf8')) as { ID?: string; VALUE?: unknown }
          const what = `${v.ID}=${typeof v.VALUE === 'number' ? 'number' : String(v.VALUE).slice(0, 20)}`
          other.set(what, (other.get(what) ?? 0) + 1)
        }
        offset = (batch.at(-1)?.offset ?? offset) + 1
      }
    }),
  )
  const distinct = new Uint32Array(counts.length)
  for (let k = 0; k < counts.length; k++) {
    const n = Math.min(counts[k] as number, (start[k + 1] as number) - (start[k] as number))
    const all = Float64Array.from([
      ...values.subarray(start[k] as number, (start[k] as number) + n),
      ...(more.get(k) ?? []),
    ])
    all.sort()
    let d = 0
    for (let j = 0; j < all.length; j++) if (j === 0 || all[j] !== all[j - 1]) d++
    distinct[k] = d
  }
  return { counts, distinct, records, other, ms: performance.now() - t0 }
}

async function main(): Promise<void> {
  const minutes = Number(args.minutes)
  const rate = Number(args.rate)
  const A = Number(args.assets)
  const I = Number(args.items)
  const S = Number(args.subscribers)
  const sampleMs = Number(args.sample) * 1000
  const onKafka = args.kafka || args.bootstrap !== undefined
  const out = path.resolve(args.out ?? path.join(ROOT, 'bench', onKafka ? 'soak-kafka' : 'soak-embedded'))
  const run = Date.now().toString(36).slice(-6)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-soak-'))
  const dataDir = path.join(tmp, 'data')
  const cleanups: (() => Promise<void> | void)[] = [() => fs.rmSync(tmp, { recursive: true, force: true })]
  const cleanup = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c()
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}`)
      }
    }
    cleanups.length = 0
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping`)
      void cleanup().then(() => process.exit(130))
    })
  }
  try {
    const uptime = () => spawnSync('uptime', { encoding: 'utf8' }).stdout.trim()
    console.log(`soak ${run}: ${A} assets × ${I} items at ${rate}/s for ${minutes} min, ${S} subscribers`)
    console.log(`start: ${uptime()}`)
    // A broker of this run's own: another soak (or a test) may run one of its own at the same time.
    const brokerName = `soak-${run}`
    const broker = await mosquitto.start({ name: brokerName })
    cleanups.push(() => mosquitto.stop(brokerName, true))
    let bootstrap = args.bootstrap
    let logDirs: string[] = [dataDir]
    if (args.kafka) {
      const cluster = await kafka.start({ name: 'soak', brokers: 1 })
      cleanups.push(() => kafka.stop('soak', true))
      bootstrap = cluster.bootstrap
      logDirs = cluster.nodes.map((n) => path.join(n.dir, 'data'))
    } else if (bootstrap !== undefined) logDirs = []
    const factory = writeFactory(tmp, run, broker.url, A, I)
    const port = await freePort()
    const apiUrl = `http://127.0.0.1:${port}`
    const ofaOut = path.join(tmp, 'ofa.out')
    const outFd = fs.openSync(ofaOut, 'a')
    const backbone = bootstrap !== undefined ? ['--bootstrap', bootstrap] : ['--data', dataDir]
    const ofa = spawn(
      process.execPath,
      [
        '--max-semi-space-size=8',
        ...(args.profile
          ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args.profile)}`, '--heapsnapshot-signal=SIGUSR2']
          : []),
        OFA_BIN,
        'up',
        factory,
        '--port',
        String(port),
        ...backbone,
      ],
      { detached: true, stdio: ['ignore', outFd, outFd], cwd: tmp },
    )
    let ofaExited = false
    const ofaExit = new Promise<number | null>((resolve) =>
      ofa.once('exit', (code) => {
        ofaExited = true
        resolve(code)
      }),
    )
    const stopOfa = async () => {
      if (ofaExited) return
      killGroup(ofa.pid, 'SIGTERM')
      const t = setTimeout(() => killGroup(ofa.pid, 'SIGKILL'), 120_000)
      await ofaExit
      clearTimeout(t)
    }
    cleanups.push(stopOfa)
    // Ready: the state follows the log, and the gateway is connected and subscribed (its `avail` AVAILABLE) — a
    // message published before our subscription exists would not be kept for us.
    const readyBy = Date.now() + 180_000
    for (;;) {
      if (ofaExited) throw new Error(`ofa up exited:\n${fs.readFileSync(ofaOut, 'utf8').slice(-3000)}`)
      if (Date.now() > readyBy) throw new Error(`ofa up not ready in 180 s:\n${fs.readFileSync(ofaOut, 'utf8')}`)
      const res = await fetch(`${apiUrl}/api/assets/S${run}-GW`).catch(() => null)
      if (res?.ok) {
        const asset = (await res.json()) as { state: { id: string; value: unknown }[] }
        if (asset.state.some((e) => e.id === 'avail' && e.value === 'AVAILABLE')) break
      } else await res?.arrayBuffer()
      await sleep(250)
    }
    console.log(`ofa up ready on ${apiUrl} (pid ${ofa.pid}), ${bootstrap ? `Kafka ${bootstrap}` : dataDir}`)

    const cfg: RunConfig = {
      run,
      brokerUrl: broker.url,
      apiUrl,
      rate,
      assets: A,
      items: I,
      subscribers: S,
      readers: Number(args.readers),
    }
    // The broker's own counts ($SYS, every 10 s): messages it holds (queued for the factory's session among them)
    // and messages it dropped (a full queue), so that a loss can be told from a broker that dropped.
    const sys = { stored: Number.NaN, dropped: Number.NaN }
    const sysClient = await mqtt.connectAsync(broker.url, { clientId: `soak-sys-${run}`, protocolVersion: 4 })
    cleanups.push(() => sysClient.endAsync())
    sysClient.on('message', (topic, payload) => {
      if (topic.endsWith('/store/messages/count')) sys.stored = Number(payload.toString())
      else sys.dropped = Number(payload.toString())
    })
    await sysClient.subscribeAsync(['$SYS/broker/store/messages/count', '$SYS/broker/publish/messages/dropped'])
    const gen = new Child('generator', cfg)
    cleanups.push(() => gen.kill())
    const cli = new Child('clients', cfg)
    cleanups.push(() => cli.kill())
    await Promise.all([gen.ready, cli.ready])
    await gen.request('start')
    const t0 = Date.now()
    console.log(`generator started at ${new Date(t0).toISOString()}`)

    const rows: Row[] = []
    const header: (keyof Row)[] = [
      't_s',
      'gen_acked',
      'gen_rate',
      'gen_behind',
      'ws_received',
      'ws_rate',
      'ws_backlog',
      'p50_ms',
      'p99_ms',
      'max_ms',
      'rest_n',
      'rest_p99_ms',
      'rest_errors',
      'rss_mib',
      'heap_used_mib',
      'heap_total_mib',
      'external_mib',
      'el_p99_ms',
      'el_max_ms',
      'cpu_pct',
      'buffered',
      'dropped',
      'log_mib',
      'broker_stored',
      'broker_dropped',
      'load1',
    ]
    fs.mkdirSync(path.dirname(out), { recursive: true })
    const csv = fs.openSync(`${out}.csv`, 'w')
    fs.writeSync(csv, `${header.join(',')}\n`)
    let prev = { t: t0, acked: 0, received: 0, cpu: Number.NaN }
    const uptimes: string[] = [uptime()]
    const endAt = t0 + minutes * 60_000
    let nextSample = t0 + sampleMs
    for (;;) {
      if (nextSample > endAt) {
        await sleep(Math.max(0, endAt - Date.now()))
        break
      }
      // (A timer may fire a millisecond before Date.now() reaches its time: the schedule, not the clock, decides.)
      await sleep(Math.max(0, nextSample - Date.now()))
      nextSample += sampleMs
      if (ofaExited) throw new Error(`ofa up exited during the soak:\n${fs.readFileSync(ofaOut, 'utf8').slice(-3000)}`)
      const now = Date.now()
      const [g, c, metricsText] = await Promise.all([
        gen.request<{ acked: number; behind: number }>('stats'),
        cli.request<Record<string, number>>('window'),
        fetch(`${apiUrl}/metrics`).then((r) => r.text()),
      ])
      const m = parseMetrics(metricsText)
      const mib = (name: string) => (m.get(name) ?? Number.NaN) / 2 ** 20
      const cpu = m.get('process_cpu_seconds_total') ?? Number.NaN
      const dt = (now - prev.t) / 1000
      const row: Row = {
        t_s: Math.round((now - t0) / 1000),
        gen_acked: g.acked,
        gen_rate: Math.round((g.acked - prev.acked) / dt),
        gen_behind: g.behind,
        ws_received: c.received as number,
        ws_rate: Math.round(((c.received as number) - prev.received) / dt),
        ws_backlog: g.acked - (c.received as number),
        p50_ms: c.p50 as number,
        p99_ms: c.p99 as number,
        max_ms: c.max as number,
        rest_n: c.restN as number,
        rest_p99_ms: c.restP99 as number,
        rest_errors: c.restErrors as number,
        rss_mib: mib('process_resident_memory_bytes'),
        heap_used_mib: mib('nodejs_heap_size_used_bytes'),
        heap_total_mib: mib('nodejs_heap_size_total_bytes'),
        external_mib: mib('nodejs_external_memory_bytes'),
        el_p99_ms: (m.get('nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
        el_max_ms: (m.get('nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
        cpu_pct: ((cpu - prev.cpu) / dt) * 100,
        buffered: m.get('ofa_connector_records_buffered') ?? 0,
        dropped:
          (m.get('ofa_connector_records_dropped_total') ?? 0) + (m.get('ofa_connector_messages_dropped_total') ?? 0),
        log_mib: duBytes(logDirs) / 2 ** 20,
        broker_stored: sys.stored,
        broker_dropped: sys.dropped,
        load1: os.loadavg()[0] as number,
      }
      prev = { t: now, acked: g.acked, received: c.received as number, cpu }
      rows.push(row)
      fs.writeSync(csv, `${header.map((k) => (Number.isFinite(row[k]) ? +row[k].toFixed(2) : '')).join(',')}\n`)
      console.log(
        `${String(row.t_s).padStart(5)} s  gen ${row.gen_rate}/s (behind ${row.gen_behind})  ws ${row.ws_rate}/s ` +
          `p99 ${fmt(row.p99_ms)} ms max ${fmt(row.max_ms)}  rest p99 ${fmt(row.rest_p99_ms)} ms  ` +
          `rss ${row.rss_mib.toFixed(0)} heap ${row.heap_used_mib.toFixed(0)}/${row.heap_total_mib.toFixed(0)} MiB  ` +
          `el p99 ${fmt(row.el_p99_ms)} max ${fmt(row.el_max_ms)} ms  cpu ${row.cpu_pct.toFixed(0)}%  ` +
          `buffered ${row.buffered}  backlog ${row.ws_backlog}  broker stored ${row.broker_stored} dropped ${row.broker_dropped}  ` +
          `log ${row.log_mib.toFixed(0)} MiB  load ${row.load1.toFixed(2)}`,
      )
      if (rows.length === Math.round((minutes * 30_000) / sampleMs)) uptimes.push(uptime())
    }
    fs.closeSync(csv)
    uptimes.push(uptime())

    // The end: what was sent, what the subscribers and the log got.
    const final = await gen.request<{ sent: number; acked: number; failed: number; counts: string }>('stop')
    const b = Buffer.from(final.counts, 'base64')
    const sentCounts = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4)
    const expectedPerSub = new Float64Array(S)
    for (let k = 0; k < sentCounts.length; k++) {
      const s = (k % A) % S
      expectedPerSub[s] = (expectedPerSub[s] as number) + (sentCounts[k] as number)
    }
    const expected = expectedPerSub.reduce((x, y) => x + y, 0)
    console.log(`generator: ${final.sent} published, ${final.acked} acknowledged by the broker, ${final.failed} failed`)
    let last = -1
    let still = Date.now()
    const drainBy = Date.now() + Number(args['drain-minutes']) * 60_000
    for (;;) {
      const w = await cli.request<{ received: number }>('window')
      if (w.received >= expected || Date.now() > drainBy) break
      if (w.received !== last) {
        last = w.received
        still = Date.now()
      } else if (Date.now() - still > 15_000) break
      await sleep(1000)
    }
    const fin = await cli.request<{ received: number[]; wsErrors: number; closed: number }>('final')
    let wsLost = 0
    let wsExtra = 0
    fin.received.forEach((r, s) => {
      const e = expectedPerSub[s] as number
      if (r < e) wsLost += e - r
      else wsExtra += r - e
    })
    const drainS = (Date.now() - t0) / 1000 - (rows.at(-1)?.t_s ?? 0)
    await sleep(11_000) // the broker's next $SYS counts
    const atStop = { ...sys }
    const stopT = Date.now()
    await stopOfa()
    console.log(`ofa up stopped in ${((Date.now() - stopT) / 1000).toFixed(1)} s (exit ${await ofaExit})`)
    // What `ofa up` warned about, once per message (its log goes to the temp dir, deleted at the end).
    const told = new Map<string, number>()
    for (const line of fs.readFileSync(ofaOut, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue
      const e = JSON.parse(line) as { level?: string; msg?: string }
      if (e.level === 'warn' || e.level === 'error')
        told.set(`${e.level}: ${e.msg}`, (told.get(`${e.level}: ${e.msg}`) ?? 0) + 1)
    }
    for (const [msg, n] of [...told].slice(0, 12)) console.log(`ofa up said ×${n}: ${msg.slice(0, 300)}`)

    const log: EventLog =
      bootstrap !== undefined
        ? await openKafkaLog({ bootstrapServers: bootstrap, clientId: `soak-check-${run}` })
        : await openEmbeddedLog({ dir: dataDir, readOnly: true })
    let logged: Awaited<ReturnType<typeof countLogged>>
    try {
      logged = await countLogged(log, run, A, I, sentCounts)
    } finally {
      await log.close()
    }
    // Lost: sent, and no record of the log carries its value. Duplicated: records beyond one per value. Unknown: values
    // the generator did not send (none expected).
    let lost = 0
    let duplicated = 0
    let unknown = 0
    let itemsShort = 0
    for (let k = 0; k < sentCounts.length; k++) {
      const sent = sentCounts[k] as number
      const distinct = logged.distinct[k] as number
      duplicated += (logged.counts[k] as number) - distinct
      if (distinct < sent) {
        lost += sent - distinct
        itemsShort++
      } else unknown += distinct - sent
    }
    console.log(
      `log: ${logged.records} records of ${TOPICS.assets} read in ${(logged.ms / 1000).toFixed(1)} s, ` +
        `${logged.counts.reduce((x, y) => x + y, 0)} observations of the run counted, other records of its assets: ${[
          ...logged.other,
        ]
          .sort((x, y) => y[1] - x[1])
          .slice(0, 8)
          .map(([k, n]) => `${k} ×${n}`)
          .join(', ')}`,
    )

    // The summary: RSS over the last 20 minutes (the last two thirds of a shorter run).
    const fromS = Math.max(minutes * 60 - 20 * 60, (minutes * 60) / 3)
    const tail = rows.filter((r) => r.t_s >= fromS)
    const rss = tail.map((r) => r.rss_mib)
    const heap = tail.map((r) => r.heap_used_mib)
    const perHour = (ys: number[]) =>
      slope(
        tail.map((r) => r.t_s / 3600),
        ys,
      )
    const p99s = rows.map((r) => r.p99_ms).filter(Number.isFinite)
    const p99Max = Math.max(...p99s)
    const p99Median = [...p99s].sort((x, y) => x - y)[Math.floor(p99s.length / 2)] as number
    const elMax = Math.max(...rows.map((r) => r.el_max_ms).filter(Number.isFinite))
    const avgRate = final.acked / ((rows.at(-1)?.t_s ?? 1) || 1)
    const summary =
      `soak ${onKafka ? 'kafka' : 'embedded'}: ${minutes} min, ${A}×${I}, ${Math.round(avgRate)}/s acknowledged ` +
      `(target ${rate}), ${S} subscribers; RSS last ${((minutes * 60 - fromS) / 60).toFixed(0)} min ` +
      `min ${Math.min(...rss).toFixed(0)} max ${Math.max(...rss).toFixed(0)} MiB slope ${perHour(rss).toFixed(1)} MiB/h; ` +
      `heap used min ${Math.min(...heap).toFixed(0)} max ${Math.max(...heap).toFixed(0)} slope ${perHour(heap).toFixed(1)} MiB/h; ` +
      `p99 median ${fmt(p99Median)} max ${fmt(p99Max)} ms; event-loop max ${fmt(elMax)} ms; ` +
      `log ${((rows.at(-1)?.log_mib ?? Number.NaN) / 1024).toFixed(2)} GiB; ` +
      `lost = ${lost} (${itemsShort} items short), duplicated = ${duplicated}, values not sent = ${unknown}; ` +
      `WebSocket lost = ${wsLost}, extra = ${wsExtra}, errors ${fin.wsErrors}, closed ${fin.closed}; ` +
      `drained in ${drainS.toFixed(0)} s after the generator stopped; broker at the end: ${atStop.stored} stored, ${atStop.dropped} dropped`
    console.log(`load: ${uptimes.join(' | ')}`)
    console.log(summary)

    const title = `ofa up soak, ${onKafka ? 'Kafka' : 'embedded log'}: ${A.toLocaleString('en')} assets × ${I} items, ${rate.toLocaleString('en')} obs/s, ${S} WebSocket subscribers, ${cfg.readers} REST reads/s`
    const sub = `run ${new Date(t0).toISOString().slice(0, 16)}Z, ${minutes} min, ${os.cpus().length} cores shared (load ${uptimes.map((u) => u.replace(/.*load average: /, '').split(',')[0]).join(' → ')}); lost = ${lost}, p99 max ${fmt(p99Max)} ms`
    await renderPng(chartSvg(rows, title, sub), `${out}.png`)
    console.log(`wrote ${path.relative(process.cwd(), out)}.csv and .png`)
    process.exitCode = lost === 0 ? 0 : 1
  } finally {
    await cleanup()
  }
}

/** `--replot <csv>`: the PNG of a CSV written by an earlier run (next to it), with `--title` and `--subtitle`. */
async function replot(file: string): Promise<void> {
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n')
  const keys = (head as string).split(',') as (keyof Row)[]
  const rows = lines.map((line) => {
    const cells = line.split(',')
    return Object.fromEntries(
      keys.map((k, i) => [k, cells[i] === '' ? Number.NaN : Number(cells[i])]),
    ) as unknown as Row
  })
  const png = file.replace(/\.csv$/, '.png')
  await renderPng(chartSvg(rows, args.title as string, args.subtitle as string), png)
  console.log(`wrote ${png}`)
}

if (args.replot) await replot(args.replot)
else if (args.role === 'generator') await generator(JSON.parse(args.config as string) as RunConfig)
else if (args.role === 'clients') await clients(JSON.parse(args.config as string) as RunConfig)
else await main()
