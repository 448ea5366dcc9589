// SHDR ingest throughput: lines/s parsed, parsed + mapped to observations, and end to end over a real loopback
// socket (adapter → ShdrConnector → a counting context), beside a same-run anchor: a plain `line.split('|')` loop
// over the same lines. Run: npx node bench/shdr-ingest.ts [lines]
import net from 'node:net'
import os from 'node:os'
import { encodeObservation } from '@openfactory/model'
import {
  createMTConnectConnector,
  readDevicesXml,
  shdrDeviceFromMTConnect,
} from '../packages/connectors/src/mtconnect/index.ts'
import { ShdrMapper, ShdrStream } from '../packages/connectors/src/shdr/index.ts'
import { countingContext } from './lib/counting-context.ts'

const N = Number(process.argv[2] ?? 300_000)
const XML = new URL('../packages/connectors/test/fixtures/mtconnect/mill-3axis.xml', import.meta.url).pathname
const [mill] = readDevicesXml(XML)
if (!mill) throw new Error('no device in the fixture')

// A realistic mix for a 3-axis mill at a high sample rate: mostly position/spindle sample lines.
function makeLines(n: number): string[] {
  const out: string[] = []
  const t0 = Date.parse('2025-03-14T08:00:00.000Z')
  for (let i = 0; i < n; i++) {
    const ts = new Date(t0 + i).toISOString()
    const r = i % 20
    const x = (Math.sin(i / 100) * 60).toFixed(3)
    const y = (Math.cos(i / 100) * 40).toFixed(3)
    if (r < 14) out.push(`${ts}|Xact|${x}|Yact|${y}|Zact|-5.125|Srpm|${8000 + (i % 17)}|Sload|37.5|Stemp|41.25`)
    else if (r < 17) out.push(`${ts}|execution|ACTIVE|line|${i % 1000}|program|O1001`)
    else if (r < 18) out.push(`${ts}|system|${i % 40 === 17 ? 'FAULT' : 'NORMAL'}|E-2301|2|HIGH|Servo amplifier fault`)
    else if (r < 19) out.push(`${ts}|path_pos|${x} ${y} -5.125`)
    else out.push(`${ts}|msg|M-12|Operator: check the Y servo amplifier`)
  }
  return out
}

const lines = makeLines(N)
const avgBytes = Math.round(lines.reduce((a, l) => a + l.length + 1, 0) / N)

function best(label: string, runs: number, fn: () => number): { perSec: number; out: number } {
  fn() // warm up
  let bestMs = Number.POSITIVE_INFINITY
  let out = 0
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    out = fn()
    bestMs = Math.min(bestMs, performance.now() - t)
  }
  const perSec = (N / bestMs) * 1000
  console.log(`${label.padEnd(44)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} lines/s`)
  return { perSec, out }
}

console.log(
  `SHDR ingest — ${N} lines, ${avgBytes} bytes/line on average, Node ${process.version}, ${os.cpus().length} cores`,
)
const anchor = best('anchor: line.split("|") loop', 5, () => {
  let tokens = 0
  for (const l of lines) tokens += l.split('|').length
  return tokens
})
const parse = best('ours: ShdrStream.push (parse)', 5, () => {
  const s = new ShdrStream()
  let n = 0
  for (const l of lines) if (s.push(l)) n++
  return n
})
const device = shdrDeviceFromMTConnect(mill, 'MILL-1')
const mapped = best('ours: parse + map to observations', 5, () => {
  const s = new ShdrStream()
  const m = new ShdrMapper({ devices: [device] })
  const now = Date.now()
  let obs = 0
  for (const l of lines) {
    const p = s.push(l)
    if (p?.kind === 'data') for (const g of m.map(p, now).groups) obs += g.observations.length
  }
  return obs
})
// Without the duplicate filter: the mapping work of every line, as before the filter existed (comparable figures).
const mappedAll = best('ours: parse + map, duplicates kept', 5, () => {
  const s = new ShdrStream()
  const m = new ShdrMapper({ devices: [device], filterDuplicates: false })
  const now = Date.now()
  let obs = 0
  for (const l of lines) {
    const p = s.push(l)
    if (p?.kind === 'data') for (const g of m.map(p, now).groups) obs += g.observations.length
  }
  return obs
})
const encoded = best('ours: parse + map + JSON wire encoding', 3, () => {
  const s = new ShdrStream()
  const m = new ShdrMapper({ devices: [device] })
  const now = Date.now()
  let bytes = 0
  for (const l of lines) {
    const p = s.push(l)
    if (p?.kind === 'data')
      for (const g of m.map(p, now).groups) for (const o of g.observations) bytes += encodeObservation(o).length
  }
  return bytes
})
const obsPerLine = mapped.out / N
console.log(
  `  (${obsPerLine.toFixed(2)} observations per line: ${Math.round(mapped.perSec * obsPerLine).toLocaleString('en-US')} observations/s mapped)`,
)
console.log(`ratio parse / anchor:             ${(parse.perSec / anchor.perSec).toFixed(2)}`)
console.log(
  `  (duplicates kept: ${(mappedAll.out / N).toFixed(2)} observations per line; the filter dropped ${Math.round((1 - mapped.out / mappedAll.out) * 100)}%)`,
)
console.log(`ratio parse+map / anchor:         ${(mapped.perSec / anchor.perSec).toFixed(2)}`)
console.log(`ratio parse+map, dups kept / anchor: ${(mappedAll.perSec / anchor.perSec).toFixed(2)}`)
console.log(`ratio parse+map+encode / anchor:  ${(encoded.perSec / anchor.perSec).toFixed(2)}`)

// End to end over loopback: a raw TCP adapter writes the whole log as fast as the socket takes it.
async function endToEnd(): Promise<number> {
  const text = `${lines.join('\n')}\n`
  const server = net.createServer((s) => {
    s.on('error', () => {})
    s.on('data', (d) => {
      if (d.toString().includes('* PING')) s.write('* PONG 10000\n')
    })
    s.write(text)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  let observations = 0
  let firstAt = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((r) => {
    done = r
  })
  const target = mapped.out
  const ctx = countingContext({
    publish: (_uuid, obs) => {
      if (firstAt === 0) firstAt = performance.now()
      observations += obs.length
      if (observations >= target) done()
    },
  })

  const connector = createMTConnectConnector({
    deviceXmlFile: XML,
    adapter: { host: '127.0.0.1', port },
    uuid: 'MILL-1',
  })
  const t = performance.now()
  await connector.start(ctx)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([finished, new Promise((r) => (timer = setTimeout(r, 60_000)))])
  clearTimeout(timer)
  const ms = performance.now() - t
  await connector.stop()
  await new Promise((r) => server.close(r))
  if (observations < target) throw new Error(`end to end: ${observations} of ${target} observations within 60 s`)
  return (N / ms) * 1000
}
const e2e = await endToEnd()
console.log(
  `${'ours: loopback TCP → connector → ctx.publish'.padEnd(44)} ${Math.round(e2e).toLocaleString('en-US').padStart(12)} lines/s (connect included)`,
)
console.log(`ratio end-to-end / anchor:        ${(e2e / anchor.perSec).toFixed(2)}`)
