// MTConnect agent client throughput: sample documents/s read into observations (`readAgentDocument` +
// `AgentStreamMapper`, what the connector does with every part of the stream), beside a same-run anchor: the XML
// parser alone (saxes over the same documents, counting elements, with the options our reader uses). Then end to
// end over loopback HTTP: a minimal agent streams the same documents as multipart parts to the connector, which
// publishes to a counting context. The same documents in JSON (version 2), beside JSON.parse alone. Run: npx node bench/mtconnect-agent.ts [documents] [observations per document]
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { SaxesParser } from 'saxes'
import {
  AgentStreamMapper,
  localName,
  MTConnectAgentConnector,
  parseXml,
  readAgentDocument,
  readDevicesXml,
  type XmlElement,
} from '../packages/connectors/src/mtconnect/index.ts'
import { countingContext } from './lib/counting-context.ts'

const DOCS = Number(process.argv[2] ?? 2000)
const PER_DOC = Number(process.argv[3] ?? 100)
const XML = new URL('../packages/connectors/test/fixtures/mtconnect/mill-3axis.xml', import.meta.url).pathname
const [mill] = readDevicesXml(XML)
if (!mill) throw new Error('no device in the fixture')
const INSTANCE = '1700000001'

// A realistic mix for a 3-axis mill at a high sample rate, as bench/shdr-ingest.ts: mostly positions and spindle.
interface Obs {
  readonly component: string
  readonly category: 'Samples' | 'Events' | 'Condition'
  readonly xml: (seq: number, ts: string) => string
}
function observation(i: number): Obs {
  const r = i % 20
  const x = (Math.sin(i / 100) * 60).toFixed(3)
  const y = (Math.cos(i / 100) * 40).toFixed(3)
  const sample =
    (tag: string, id: string, v: string, extra = '') =>
    (seq: number, ts: string) =>
      `<${tag} dataItemId="${id}" timestamp="${ts}" sequence="${seq}"${extra}>${v}</${tag}>`
  if (r < 5) return { component: 'x', category: 'Samples', xml: sample('Position', 'x_pos', x, ' subType="ACTUAL"') }
  if (r < 9) return { component: 'y', category: 'Samples', xml: sample('Position', 'y_pos', y, ' subType="ACTUAL"') }
  if (r < 11)
    return {
      component: 'spindle',
      category: 'Samples',
      xml: sample('RotaryVelocity', 's_speed', String(8000 + (i % 17))),
    }
  if (r < 13) return { component: 'spindle', category: 'Samples', xml: sample('Load', 's_load', '37.5') }
  if (r < 14) return { component: 'spindle', category: 'Samples', xml: sample('Temperature', 's_temp', '41.25') }
  if (r < 16) return { component: 'path1', category: 'Events', xml: sample('LineNumber', 'line', String(i % 1000)) }
  if (r < 17)
    return { component: 'path1', category: 'Samples', xml: sample('PathPosition', 'path_pos', `${x} ${y} -5.125`) }
  if (r < 18) {
    const fault = i % 40 === 17
    return {
      component: 'cont',
      category: 'Condition',
      xml: (seq, ts) =>
        fault
          ? `<Fault dataItemId="system" timestamp="${ts}" sequence="${seq}" type="SYSTEM" nativeCode="E-2301" nativeSeverity="2" qualifier="HIGH">Servo amplifier fault</Fault>`
          : `<Normal dataItemId="system" timestamp="${ts}" sequence="${seq}" type="SYSTEM"/>`,
    }
  }
  if (r < 19) {
    return {
      component: 'path1',
      category: 'Events',
      xml: sample(
        'VariableDataSet',
        'vars',
        `<Entry key="feed">${i % 120}</Entry><Entry key="mode">auto</Entry>`,
        ' count="2"',
      ),
    }
  }
  return {
    component: 'cont',
    category: 'Events',
    xml: sample('Message', 'msg', 'Operator: check the Y servo amplifier', ' nativeCode="M-12"'),
  }
}

/** Sample documents of `PER_DOC` observations each, grouped by component and category as an agent writes them. */
function makeDocuments(): string[] {
  const docs: string[] = []
  const t0 = Date.parse('2025-03-14T08:00:00.000Z')
  let seq = 1
  for (let d = 0; d < DOCS; d++) {
    const byComponent = new Map<string, Map<string, string[]>>()
    for (let k = 0; k < PER_DOC; k++, seq++) {
      const o = observation(seq)
      const ts = new Date(t0 + seq).toISOString().replace('Z', '123Z') // microseconds, as agents write
      const cats = byComponent.get(o.component) ?? new Map<string, string[]>()
      byComponent.set(o.component, cats)
      const list = cats.get(o.category) ?? []
      list.push(o.xml(seq, ts))
      cats.set(o.category, list)
    }
    const comps = [...byComponent]
      .map(
        ([id, cats]) =>
          `<ComponentStream component="C" componentId="${id}">${[...cats].map(([c, l]) => `<${c}>${l.join('')}</${c}>`).join('')}</ComponentStream>`,
      )
      .join('')
    docs.push(
      `<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:2.2"><Header creationTime="2025-03-14T08:00:00Z" sender="bench" instanceId="${INSTANCE}" version="2.2.0.0" bufferSize="131072" nextSequence="${seq}" firstSequence="1" lastSequence="${seq - 1}"/><Streams><DeviceStream name="${mill?.name}" uuid="${mill?.uuid}">${comps}</DeviceStream></Streams></MTConnectStreams>`,
    )
  }
  return docs
}

const docs = makeDocuments()
const avgBytes = Math.round(docs.reduce((a, d) => a + Buffer.byteLength(d), 0) / docs.length)

function best(label: string, runs: number, fn: () => number): { perSec: number; out: number } {
  fn() // warm up
  let bestMs = Number.POSITIVE_INFINITY
  let out = 0
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    out = fn()
    bestMs = Math.min(bestMs, performance.now() - t)
  }
  const perSec = (docs.length / bestMs) * 1000
  console.log(`${label.padEnd(50)} ${Math.round(perSec).toLocaleString('en-US').padStart(10)} documents/s`)
  return { perSec, out }
}

console.log(
  `MTConnect agent client — ${docs.length} sample documents of ${PER_DOC} observations, ${avgBytes} bytes each on average, Node ${process.version}, ${os.cpus().length} cores`,
)
const anchor = best('anchor: saxes alone (position: true, count elements)', 5, () => {
  let elements = 0
  for (const d of docs) {
    const p = new SaxesParser({ xmlns: false, position: true })
    p.on('opentag', () => {
      elements++
    })
    p.write(d).close()
  }
  return elements
})
// The parser delivering every event a reader needs (start tags with attributes, text, end tags), doing nothing.
const events = best('anchor: saxes alone, opentag + text + closetag events', 5, () => {
  let n = 0
  for (const d of docs) {
    const p = new SaxesParser({ xmlns: false, position: true })
    p.on('opentag', () => {
      n++
    })
    p.on('text', (t) => {
      n += t.length
    })
    p.on('closetag', () => {
      n++
    })
    p.write(d).close()
  }
  return n
})
const read = best('ours: readAgentDocument (tree + header + elements)', 5, () => {
  let n = 0
  for (const d of docs) {
    const doc = readAgentDocument(d, 'bench')
    if (doc.kind === 'streams') n += doc.observations.length
  }
  return n
})
const mapper = new AgentStreamMapper([{ model: mill, assetUuid: 'MILL-1' }])
const mapped = best('ours: readAgentDocument + map to observations', 5, () => {
  let n = 0
  const ingestion = new Date().toISOString()
  for (const d of docs) {
    const doc = readAgentDocument(d, 'bench')
    if (doc.kind !== 'streams') continue
    for (const o of doc.observations) if (mapper.map(o, ingestion).kind === 'observation') n++
  }
  return n
})
console.log(
  `  (${(mapped.out / docs.length).toFixed(1)} observations per document: ${Math.round(mapped.perSec * (mapped.out / docs.length)).toLocaleString('en-US')} observations/s mapped; read ${read.out})`,
)
console.log(
  `ratio read / anchor:        ${(read.perSec / anchor.perSec).toFixed(2)} (${(read.perSec / events.perSec).toFixed(2)} of the events anchor)`,
)
console.log(
  `ratio read+map / anchor:    ${(mapped.perSec / anchor.perSec).toFixed(2)} (${(mapped.perSec / events.perSec).toFixed(2)} of the events anchor)`,
)

// The same documents as an agent answering JSON (version 2 layout) writes them: read by json-document.ts into the
// same tree. Anchor: JSON.parse alone over the same texts.
function toJsonV2(el: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = { ...el.attributes }
  for (const k of ['count', 'sequence', 'nativeSeverity']) if (k in out) out[k] = Number(out[k])
  const entries = el.children.filter((c) => localName(c.name) === 'Entry')
  if (entries.length > 0) out.value = Object.fromEntries(entries.map((e) => [e.attributes.key, e.text]))
  else if (el.children.length === 0 && el.text.trim() !== '') {
    const n = Number(el.text)
    out.value = el.text.includes(' ') || Number.isNaN(n) ? el.text : n
  }
  const groups = new Map<string, Record<string, unknown>[]>()
  for (const c of el.children) {
    const name = localName(c.name)
    if (name === 'Entry') continue
    const list = groups.get(name) ?? []
    list.push(toJsonV2(c))
    groups.set(name, list)
  }
  for (const [name, list] of groups) {
    const single =
      name === 'Header' || name === 'Streams' || name === 'Samples' || name === 'Events' || name === 'Condition'
    out[name] = single ? list[0] : list
  }
  return out
}
const jsonDocs = docs.map((d) => {
  const root = parseXml(d)
  return JSON.stringify({ [localName(root.name)]: { jsonVersion: 2, ...toJsonV2(root) } })
})
const jsonAnchor = best('anchor: JSON.parse alone (JSON version 2 documents)', 5, () => {
  let n = 0
  for (const d of jsonDocs) n += Object.keys(JSON.parse(d)).length
  return n
})
const jsonMapped = best('ours: JSON readAgentDocument + map to observations', 5, () => {
  let n = 0
  const ingestion = new Date().toISOString()
  for (const d of jsonDocs) {
    const doc = readAgentDocument(d, 'bench')
    if (doc.kind !== 'streams') continue
    for (const o of doc.observations) if (mapper.map(o, ingestion).kind === 'observation') n++
  }
  return n
})
if (jsonMapped.out !== mapped.out) throw new Error(`JSON gave ${jsonMapped.out} observations, XML ${mapped.out}`)
console.log(`ratio JSON read+map / JSON.parse: ${(jsonMapped.perSec / jsonAnchor.perSec).toFixed(2)}`)

// End to end over loopback: a minimal agent (probe, current, assets, then every document as one multipart part,
// as fast as the socket takes them) → MTConnectAgentConnector → a counting context.
async function endToEnd(): Promise<number> {
  const probe = `<MTConnectDevices><Header instanceId="${INSTANCE}" assetBufferSize="4"/><Devices>${await import('node:fs').then((fs) => /<Device [\s\S]*<\/Device>/.exec(fs.readFileSync(XML, 'utf8'))?.[0])}</Devices></MTConnectDevices>`
  const current = `<MTConnectStreams><Header instanceId="${INSTANCE}" nextSequence="1" firstSequence="1" lastSequence="0"/><Streams/></MTConnectStreams>`
  const server = http.createServer((req, res) => {
    const path = req.url ?? ''
    if (!path.startsWith('/sample')) {
      const body =
        path === '/probe'
          ? probe
          : path === '/current'
            ? current
            : `<MTConnectAssets><Header instanceId="${INSTANCE}"/><Assets/></MTConnectAssets>`
      res.writeHead(200, { 'Content-Type': 'text/xml' })
      res.end(body)
      return
    }
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=BENCH' })
    let i = 0
    const pump = (): void => {
      while (i < docs.length) {
        const d = Buffer.from(docs[i++] as string)
        const ok = res.write(
          Buffer.concat([
            Buffer.from(`--BENCH\r\nContent-type: text/xml\r\nContent-length: ${d.length}\r\n\r\n`),
            d,
            Buffer.from('\r\n'),
          ]),
        )
        if (!ok) return void res.once('drain', pump)
      }
    }
    pump()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  let observations = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((r) => {
    done = r
  })
  const target = mapped.out
  const ctx = countingContext({
    publish: (_uuid, obs) => {
      observations += obs.length
      if (observations >= target) done()
    },
  })

  const connector = new MTConnectAgentConnector({ agent: { host: '127.0.0.1', port }, uuid: 'MILL-1' })
  const t = performance.now()
  await connector.start(ctx)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([finished, new Promise((r) => (timer = setTimeout(r, 120_000)))])
  clearTimeout(timer)
  const ms = performance.now() - t
  await connector.stop()
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
  if (observations < target) throw new Error(`end to end: ${observations} of ${target} observations within 120 s`)
  return (docs.length / ms) * 1000
}
const e2e = await endToEnd()
console.log(
  `${'ours: loopback HTTP multipart → connector → ctx.publish'.padEnd(50)} ${Math.round(e2e).toLocaleString('en-US').padStart(10)} documents/s (connect, probe, current included)`,
)
console.log(`ratio end-to-end / anchor:  ${(e2e / anchor.perSec).toFixed(2)}`)
