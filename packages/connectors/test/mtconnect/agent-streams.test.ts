// The agent client's readers, without a connector: response documents (streams.ts), the same observations as the
// SHDR path, multipart framing and the HTTP bounds (agent-client.ts).
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, type TestContext, test } from 'node:test'
import { isOpenFactoryError, type Observation } from '@openfactory/model'
import {
  AgentStreamMapper,
  getAgentDocument,
  MultipartReader,
  multipartBoundary,
  parseXml,
  readAgentDocument,
  shdrDeviceFromMTConnect,
  streamAgentParts,
} from '../../src/mtconnect/index.ts'
import { ShdrMapper, ShdrStream } from '../../src/shdr/index.ts'
import { AgentPeer, LATHE, type PeerValue } from '../../src/testing/agent-peer.ts'

const SRC = 'http://agent:5000/current'

const STREAMS_13 = `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectStreams xmlns:m="urn:mtconnect.org:MTConnectStreams:1.3" xmlns="urn:mtconnect.org:MTConnectStreams:1.3">
  <Header creationTime="2025-06-01T00:00:01Z" sender="a" instanceId="1717" version="1.3.0.18" bufferSize="131072"
          nextSequence="58" firstSequence="1" lastSequence="57"/>
  <Streams>
    <DeviceStream name="lathe-1" uuid="PEER-LATHE-1">
      <ComponentStream component="Rotary" name="C" componentId="spindle">
        <Samples>
          <RotaryVelocity dataItemId="s_speed" timestamp="2025-06-01T00:00:00.123456Z" sequence="40" subType="ACTUAL">1200</RotaryVelocity>
        </Samples>
        <Condition>
          <Fault dataItemId="s_temp_cond" timestamp="2025-06-01T00:00:00.2Z" sequence="41" type="TEMPERATURE" nativeCode="T-1">Hot &amp; dry</Fault>
        </Condition>
      </ComponentStream>
      <ComponentStream component="Path" name="path" componentId="path1">
        <Events>
          <VariableDataSet dataItemId="vars" timestamp="2025-06-01T00:00:01Z" sequence="42" count="2"><Entry key="a">1</Entry><Entry key="b" removed="true"/></VariableDataSet>
          <WorkOffsetTable dataItemId="offsets" timestamp="2025-06-01T00:00:01Z" sequence="43" count="1"><Entry key="G54"><Cell key="X">1.5</Cell></Entry></WorkOffsetTable>
          <Program dataItemId="program" timestamp="2025-06-01T00:00:01Z" sequence="39"/>
        </Events>
      </ComponentStream>
    </DeviceStream>
  </Streams>
</MTConnectStreams>`

describe('agent documents', () => {
  test('a Streams document: header, observations with their attributes, data set and table entries', () => {
    const doc = readAgentDocument(STREAMS_13, SRC)
    assert.equal(doc.kind, 'streams')
    if (doc.kind !== 'streams') return
    assert.deepEqual(
      { ...doc.header },
      {
        instanceId: '1717',
        version: '1.3.0.18',
        creationTime: '2025-06-01T00:00:01Z',
        bufferSize: 131072,
        firstSequence: 1,
        lastSequence: 57,
        nextSequence: 58,
      },
    )
    assert.deepEqual(
      doc.observations.map((o) => [
        o.deviceName,
        o.deviceUuid,
        o.dataItemId,
        o.sequence,
        o.element,
        o.category,
        o.text,
      ]),
      [
        ['lathe-1', 'PEER-LATHE-1', 's_speed', 40, 'RotaryVelocity', 'SAMPLE', '1200'],
        ['lathe-1', 'PEER-LATHE-1', 's_temp_cond', 41, 'Fault', 'CONDITION', 'Hot & dry'],
        ['lathe-1', 'PEER-LATHE-1', 'vars', 42, 'VariableDataSet', 'EVENT', ''],
        ['lathe-1', 'PEER-LATHE-1', 'offsets', 43, 'WorkOffsetTable', 'EVENT', ''],
        ['lathe-1', 'PEER-LATHE-1', 'program', 39, 'Program', 'EVENT', ''],
      ],
    )
    assert.deepEqual(doc.observations[2]?.entries, [
      ['a', '1'],
      ['b', null],
    ])
    assert.deepEqual(doc.observations[3]?.entries, [['G54', { X: '1.5' }]])
    assert.equal(doc.observations[1]?.attributes.nativeCode, 'T-1')
  })

  test('error documents (1.x Error elements, 2.x elements named after the code), assets, refusals', () => {
    const err = readAgentDocument(
      '<MTConnectError><Header instanceId="1"/><Errors><Error errorCode="OUT_OF_RANGE">from is too old</Error></Errors></MTConnectError>',
      SRC,
    )
    assert.deepEqual(err, {
      kind: 'error',
      header: { instanceId: '1' },
      errors: [{ code: 'OUT_OF_RANGE', message: 'from is too old' }],
    })
    const err2 = readAgentDocument(
      '<m:MTConnectError xmlns:m="x"><m:Errors><m:OutOfRange><m:ErrorMessage>gone</m:ErrorMessage></m:OutOfRange></m:Errors></m:MTConnectError>',
      SRC,
    )
    assert.deepEqual(err2, { kind: 'error', errors: [{ code: 'OUT_OF_RANGE', message: 'gone' }] })
    const assets = readAgentDocument(
      '<MTConnectAssets><Header instanceId="1" assetBufferSize="8"/><Assets><CuttingTool assetId="T1" deviceUuid="D" timestamp="2025-06-01T00:00:00Z"><Life>1</Life></CuttingTool><Part assetId="P" removed="true"/></Assets></MTConnectAssets>',
      SRC,
    )
    assert.equal(assets.kind, 'assets')
    if (assets.kind === 'assets') {
      assert.deepEqual(assets.assets, [
        {
          assetId: 'T1',
          type: 'CuttingTool',
          timestamp: '2025-06-01T00:00:00Z',
          deviceUuid: 'D',
          removed: false,
          body: '<CuttingTool assetId="T1" deviceUuid="D" timestamp="2025-06-01T00:00:00Z"><Life>1</Life></CuttingTool>',
        },
        { assetId: 'P', type: 'Part', removed: true, body: '<Part assetId="P" removed="true"/>' },
      ])
    }
    const refusals: [string, RegExp][] = [
      [
        '<MTConnectStreams><Header instanceId="1" nextSequence="2" firstSequence="1" lastSequence="1"><Streams/></MTConnectStreams>',
        /^http:\/\/agent:5000\/current: the document is not well-formed XML at line 1, column \d+: XML: end tag <\/MTConnectStreams> does not match <Header>/,
      ],
      ['<html><body>502</body></html>', /<html> is not an MTConnect response document$/],
      [
        '<MTConnectStreams><Header instanceId="1"/></MTConnectStreams>',
        /the <Header> has no valid firstSequence \(''\)$/,
      ],
      ['<MTConnectStreams/>', /<MTConnectStreams> has no <Header>$/],
      [
        '<MTConnectDevices><Header instanceId="1"/><Devices/></MTConnectDevices>',
        /the probe answer describes no valid device/,
      ],
      [
        '<MTConnectStreams><Header instanceId="1" nextSequence="2" firstSequence="1" lastSequence="1"/><Streams><DeviceStream name="d"><ComponentStream><Samples><Position timestamp="x">1</Position></Samples></ComponentStream></DeviceStream></Streams></MTConnectStreams>',
        /line 1: <Position> needs a dataItemId and a sequence/,
      ],
      ['<!DOCTYPE x [<!ENTITY e "boom">]><MTConnectStreams/>', /a DOCTYPE is not accepted/],
    ]
    for (const [text, message] of refusals) {
      assert.throws(
        () => readAgentDocument(text, SRC),
        (e) => isOpenFactoryError(e, 'OFA_MTCONNECT_AGENT') && e.retryable && message.test(e.message),
        text,
      )
    }
  })
})

test('XML attribute values: a tab or line end written in a tag is a space, a character reference stays', () => {
  const root = parseXml(
    '<?xml version="1.0"?>\n<a x="1\n2" y="3">\n  <b z="\tq"/>\n<c w="a&#10;b">t\tx</c><d v="p\r\nq"/></a>',
  )
  assert.deepEqual(
    [root, ...root.children].map((e) => ({ ...e.attributes })),
    [{ x: '1 2', y: '3' }, { z: ' q' }, { w: 'a\nb' }, { v: 'p q' }],
  )
  assert.equal(root.children[1]?.text, 't\tx')
})

/** Observations with the receive time taken out (it differs between the two paths by construction). */
function comparable(list: readonly Observation[]): Observation[] {
  return list.map((o) => ({ ...o, attributes: { ...o.attributes, ingestion_timestamp: 'T' } }))
}

test('the same values through SHDR and through an agent give the same observations', () => {
  const peer = new AgentPeer({ devices: [LATHE] })
  const probe = readAgentDocument(peer.probe(), 'probe')
  assert.equal(probe.kind, 'devices')
  const model = probe.kind === 'devices' ? probe.devices[0] : undefined
  assert.ok(model)
  const cases: [PeerValue, string][] = [
    [{ id: 's_speed', value: '1250.5' }, 's_speed|1250.5'],
    [{ id: 's_speed', value: 'fast' }, 's_speed|fast'],
    [{ id: 's_speed', value: 'UNAVAILABLE' }, 's_speed|UNAVAILABLE'],
    [{ id: 'path_pos', value: '1 2.5 -3' }, 'path_pos|1 2.5 -3'],
    [{ id: 'execution', value: 'ACTIVE' }, 'execution|ACTIVE'],
    [{ id: 'program', value: '' }, 'program|'],
    [{ id: 'msg', value: 'Oil low', attributes: { nativeCode: 'M7' } }, 'msg|M7|Oil low'],
    [
      { id: 's_temp_cond', level: 'FAULT', nativeCode: 'T1', nativeSeverity: '2', qualifier: 'HIGH', text: 'Too hot' },
      's_temp_cond|FAULT|T1|2|HIGH|Too hot',
    ],
    [{ id: 's_temp_cond', level: 'NORMAL' }, 's_temp_cond|NORMAL||||'],
    [{ id: 's_temp_cond', level: 'UNAVAILABLE' }, 's_temp_cond|UNAVAILABLE||||'],
    [{ id: 's_vib', value: '1 2 3', attributes: { sampleCount: '3', sampleRate: '100' } }, 's_vib|3|100|1 2 3'],
    [{ id: 'vars', entries: { a: '1', b: 'x y', c: null } }, 'vars|a=1 b="x y" c'],
    [{ id: 'offsets', entries: { G54: { X: '1', Y: '2.5' }, G55: null } }, 'offsets|G54={X=1 Y=2.5} G55'],
    [{ id: 'vars', value: 'UNAVAILABLE' }, 'vars|UNAVAILABLE'],
  ]
  for (const [value, line] of cases) {
    const [seq] = peer.emit([value])
    const doc = readAgentDocument(
      peer.streams(
        peer.emitted.filter((o) => o.sequence === seq),
        { nextSequence: 1, firstSequence: 1, lastSequence: 1 },
      ),
      's',
    )
    assert.equal(doc.kind, 'streams')
    if (doc.kind !== 'streams') continue
    const o = doc.observations[0]
    assert.ok(o)
    const agent = new AgentStreamMapper([{ model, assetUuid: 'A' }]).map(o, 'now')
    assert.equal(agent.kind, 'observation', line)
    const shdrLine = new ShdrStream().push(`${o.timestamp}|${line}`)
    assert.equal(shdrLine?.kind, 'data', line)
    const mapper: ShdrMapper = new ShdrMapper({
      devices: [shdrDeviceFromMTConnect(model, 'A')],
      shdrVersion: 2,
      filterDuplicates: false,
    })
    const shdr: Observation[] =
      shdrLine?.kind === 'data' ? mapper.map(shdrLine).groups.flatMap((g) => g.observations) : []
    assert.deepEqual(comparable(agent.kind === 'observation' ? [agent.observation] : []), comparable(shdr), line)
  }
})

describe('multipart framing', () => {
  const boundary = 'b0undary'
  const parts = ['<a>1</a>', '<b>two é</b>', '']
  const body = Buffer.from(
    `preamble\r\n${parts
      .map((p) => `--${boundary}\r\nContent-Type: text/xml\r\nCONTENT-LENGTH: ${Buffer.byteLength(p)}\r\n\r\n${p}\r\n`)
      .join('')}--${boundary}--\r\n`,
  )

  test('parts cut at every byte come out whole, in order; the closing delimiter ends the stream', () => {
    for (let cut = 1; cut < body.length; cut++) {
      const r = new MultipartReader(boundary, 1024)
      const out = [...r.push(body.subarray(0, cut)), ...r.push(body.subarray(cut))].map((b) => b.toString('utf8'))
      assert.deepEqual(out, parts, `cut at ${cut}`)
      assert.ok(r.closed)
    }
    const bytewise = new MultipartReader(boundary, 1024)
    const out: string[] = []
    for (const byte of body) out.push(...bytewise.push(Buffer.from([byte])).map((b) => b.toString('utf8')))
    assert.deepEqual(out, parts)
  })

  test('parts without Content-length end at the next delimiter', () => {
    const text = Buffer.from(
      `--${boundary}\r\nContent-type: text/xml\r\n\r\n<x>--b0und</x>\r\n--${boundary}\r\n\r\n<y/>\r\n--${boundary}\r\n`,
    )
    for (let cut = 1; cut < text.length; cut++) {
      const r = new MultipartReader(boundary, 1024)
      const out = [...r.push(text.subarray(0, cut)), ...r.push(text.subarray(cut))].map((b) => b.toString())
      assert.deepEqual(out, ['<x>--b0und</x>', '<y/>'], `cut at ${cut}`)
    }
  })

  test('a part larger than the bound is refused as soon as its size is known, at the bound exactly it is read', () => {
    const at = (n: number) => Buffer.from(`--${boundary}\r\nContent-length: ${n}\r\n\r\n${'x'.repeat(n)}\r\n`)
    assert.deepEqual(
      new MultipartReader(boundary, 100).push(at(100)).map((b) => b.length),
      [100],
    )
    assert.throws(
      () => new MultipartReader(boundary, 100, 'GET x').push(at(101).subarray(0, 40)),
      (e) =>
        isOpenFactoryError(e, 'OFA_MTCONNECT_AGENT') &&
        /^GET x: a document of 101 bytes or more is larger than the 100 bytes accepted$/.test(e.message),
    )
    const unknown = new MultipartReader(boundary, 100)
    unknown.push(Buffer.from(`--${boundary}\r\n\r\n`))
    unknown.push(Buffer.alloc(100, 'x'))
    assert.throws(
      () => unknown.push(Buffer.from('y')),
      (e) => isOpenFactoryError(e, 'OFA_MTCONNECT_AGENT'),
    )
    assert.throws(
      () => new MultipartReader(boundary, 100).push(Buffer.from(`--${boundary}\r\n${'h'.repeat(17 * 1024)}`)),
      /headers of a multipart part are longer than 16 KiB/,
    )
  })

  test('the boundary parameter of a multipart content type', () => {
    assert.equal(multipartBoundary('multipart/x-mixed-replace;boundary=abc123'), 'abc123')
    assert.equal(multipartBoundary('multipart/x-mixed-replace; charset=utf-8; BOUNDARY="a b"'), 'a b')
    assert.equal(multipartBoundary('text/xml'), undefined)
  })
})

/** An HTTP server answering every request with `handler`; closed after the test. */
async function server(t: TestContext, handler: http.RequestListener): Promise<{ host: string; port: number }> {
  const s = http.createServer(handler)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => s.close(r)))
  t.after(() => s.closeAllConnections())
  return { host: '127.0.0.1', port: (s.address() as AddressInfo).port }
}

describe('agent HTTP', () => {
  const opts = () => ({ signal: new AbortController().signal, connectTimeoutMs: 1000, maxBytes: 1000 })

  test('a document larger than the bound is refused (declared or counted); one at the bound is read', async (t) => {
    const ep = await server(t, (req, res) => {
      const n = Number(req.url?.slice(1))
      if (req.url?.startsWith('/chunked')) {
        res.writeHead(200, { 'Content-Type': 'text/xml' })
        for (let i = 0; i < 11; i++) res.write('x'.repeat(100))
        res.end()
        return
      }
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': n })
      res.end('x'.repeat(n))
    })
    assert.equal((await getAgentDocument(ep, '/1000', opts())).body.length, 1000)
    await assert.rejects(
      getAgentDocument(ep, '/1001', opts()),
      /a document of 1001 bytes or more is larger than the 1000 bytes accepted/,
    )
    await assert.rejects(getAgentDocument(ep, '/chunked', opts()), /a document of 1100 bytes or more is larger/)
  })

  test('refused, timed out, an HTTP error without a document; an error document is handed over', async (t) => {
    const ep = await server(t, (req, res) => {
      if (req.url === '/silent') return // never answers
      if (req.url === '/xml') {
        res.writeHead(404, { 'Content-Type': 'text/xml' })
        res.end('<MTConnectError/>')
        return
      }
      res.writeHead(503, { 'Content-Type': 'text/plain' })
      res.end('busy')
    })
    await assert.rejects(
      getAgentDocument(ep, '/plain', opts()),
      /GET http:\/\/127\.0\.0\.1:\d+\/plain: HTTP 503 Service Unavailable$/,
    )
    assert.deepEqual(await getAgentDocument(ep, '/xml', opts()), {
      status: 404,
      contentType: 'text/xml',
      body: '<MTConnectError/>',
    })
    await assert.rejects(
      getAgentDocument(ep, '/silent', { ...opts(), connectTimeoutMs: 100 }),
      /no answer within 100 ms/,
    )
    await assert.rejects(
      getAgentDocument({ host: '127.0.0.1', port: 1 }, '/probe', opts()),
      (e) => isOpenFactoryError(e, 'OFA_MTCONNECT_AGENT') && e.retryable && /connection refused$/.test(e.message),
    )
  })

  test('a stream: parts as they come; a plain answer is its only part; a stall ends it', async (t) => {
    const ep = await server(t, (req, res) => {
      if (req.url === '/plain') {
        res.writeHead(404, { 'Content-Type': 'text/xml' })
        res.end('<MTConnectError/>')
        return
      }
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=B' })
      res.write('--B\r\nContent-length: 3\r\n\r\nabc\r\n')
      setTimeout(() => res.write('--B\r\nContent-length: 2\r\n\r\nde\r\n'), 20)
      if (req.url === '/closing') setTimeout(() => res.end('--B--\r\n'), 40)
    })
    const read = async (path: string, stallMs = 1000) => {
      const out: string[] = []
      for await (const p of streamAgentParts(ep, path, { ...opts(), stallMs })) out.push(p)
      return out
    }
    assert.deepEqual(await read('/closing'), ['abc', 'de'])
    assert.deepEqual(await read('/plain'), ['<MTConnectError/>'])
    const got: string[] = []
    await assert.rejects(
      (async () => {
        for await (const p of streamAgentParts(ep, '/stalls', { ...opts(), stallMs: 150 })) got.push(p)
      })(),
      (e) => isOpenFactoryError(e, 'OFA_MTCONNECT_AGENT') && /the stream stalled: no part for 150 ms$/.test(e.message),
    )
    assert.deepEqual(got, ['abc', 'de'])
  })
})
