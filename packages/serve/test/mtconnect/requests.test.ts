// The MTConnect façade's requests: every error document with its code and status, the limits just past their edge,
// JSON as asked, interval streaming with heartbeats (read by pymtconnect's stream_sample), assets.
import assert from 'node:assert/strict'
import http from 'node:http'
import { test } from 'node:test'
import { encodeAssetDocument, isoTimestamp, TOPICS } from '@openfactory/model'
import { createTestLog, createTestServing, declare, publish, sample, sensor } from '../helpers/log.ts'
import { client, eventually, grab, startApp, wellFormed } from './helpers.ts'

async function setUp(t: Parameters<typeof startApp>[0], opts: Parameters<typeof startApp>[3] = {}) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('S-1', ['F', 'A', 'S-1']))
  await publish(log, 'S-1', [sample('Temp', 20), sample('Temp', 21)])
  return { log, serving, ...(await startApp(t, log, serving, opts)) }
}

test('every error is an MTConnectError document with the standard code and status; limits refused just past their edge', async (t) => {
  const { app } = await setUp(t, { maxCount: 50, minIntervalMs: 20, maxIntervalMs: 60_000, bufferSize: 1000 })
  const next = Number(grab((await app.inject('/mtconnect/current')).body, /nextSequence="(\d+)"/))
  const first = Number(grab((await app.inject('/mtconnect/current')).body, /firstSequence="(\d+)"/))
  const cases: [string, number, string][] = [
    ['/mtconnect/sample?from=abc', 400, 'INVALID_REQUEST'],
    ['/mtconnect/sample?from=1&from=2', 400, 'INVALID_REQUEST'],
    ['/mtconnect/sample?to=3', 400, 'INVALID_REQUEST'],
    ['/mtconnect/current?at=1&interval=100', 400, 'INVALID_REQUEST'],
    ['/mtconnect/sample?heartbeat=100', 400, 'INVALID_REQUEST'],
    ['/mtconnect/probe?format=yaml', 400, 'INVALID_REQUEST'],
    ['/mtconnect/assets?removed=maybe', 400, 'INVALID_REQUEST'],
    [`/mtconnect/sample?from=${first - 1}`, 400, 'OUT_OF_RANGE'],
    [`/mtconnect/sample?from=${next + 1}`, 400, 'OUT_OF_RANGE'],
    [`/mtconnect/current?at=${next}`, 400, 'OUT_OF_RANGE'],
    [`/mtconnect/current?at=${first - 1}`, 400, 'OUT_OF_RANGE'],
    ['/mtconnect/sample?count=0', 400, 'OUT_OF_RANGE'],
    ['/mtconnect/sample?count=51', 400, 'OUT_OF_RANGE'],
    ['/mtconnect/sample?interval=19', 400, 'OUT_OF_RANGE'],
    ['/mtconnect/sample?interval=60001', 400, 'OUT_OF_RANGE'],
    ['/mtconnect/sample?interval=100&heartbeat=19', 400, 'OUT_OF_RANGE'],
    ['/mtconnect/current?interval=19', 400, 'OUT_OF_RANGE'],
    ['/mtconnect/current?path=//DataItem[@type=', 400, 'INVALID_XPATH'],
    ['/mtconnect/current?path=//DataItem[contains(@type,"X")]', 400, 'INVALID_XPATH'],
    ['/mtconnect/current?path=DataItem', 400, 'INVALID_XPATH'],
    ['/mtconnect/current?path=//DataItem[@type="NOTHING"]', 400, 'INVALID_XPATH'],
    ['/mtconnect/NOPE/current', 404, 'NO_DEVICE'],
    ['/mtconnect/NOPE/probe', 404, 'NO_DEVICE'],
    ['/mtconnect/asset/T9', 404, 'ASSET_NOT_FOUND'],
    ['/mtconnect/S-1/cancel/now', 404, 'UNSUPPORTED'],
  ]
  for (const [url, status, code] of cases) {
    const r = await app.inject(url)
    assert.equal(r.statusCode, status, `${url}: ${r.body}`)
    assert.match(String(r.headers['content-type']), /^text\/xml/, url)
    assert.equal(wellFormed(r.body), 'MTConnectError', url)
    assert.equal(grab(r.body, /errorCode="([A-Z_]+)"/), code, url)
    assert.match(r.body, /<Header [^>]*instanceId="\d+"[^>]*version="2\.2\.0\.0"/)
  }
  // Just inside the edges: accepted.
  for (const url of [
    `/mtconnect/sample?from=${first}&count=50`,
    `/mtconnect/sample?from=${next}&count=1`,
    `/mtconnect/current?at=${next - 1}`,
    '/mtconnect/current?path=//DataItem[@category="SAMPLE" and @units="CELSIUS"]|//DataItem[@type="EXECUTION"]',
    '/mtconnect/S-1/current?path=//Device[@uuid="S-1"]//DataItem[@type!="AVAILABILITY"]',
  ]) {
    const r = await app.inject(url)
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`)
    assert.equal(wellFormed(r.body), 'MTConnectStreams', url)
  }
  // JSON, as `Accept: application/json` or `format=json` asks, errors included.
  const json = await app.inject({ url: '/mtconnect/sample?count=0', headers: { accept: 'application/json' } })
  assert.equal(json.statusCode, 400)
  assert.deepEqual(json.json().MTConnectError.Errors.Error[0].errorCode, 'OUT_OF_RANGE')
  const cur = (await app.inject('/mtconnect/current?format=json')).json()
  assert.equal(cur.MTConnectStreams.jsonVersion, 2)
  assert.equal(cur.MTConnectStreams.Header.nextSequence, next)
})

test('assets and asset/{id}: the documents as the devices sent them, XML or JSON', async (t) => {
  const { log, serving, app } = await setUp(t)
  await log.append(TOPICS.documents, [
    {
      key: 'T1',
      value: encodeAssetDocument({
        assetId: 'T1',
        type: 'CuttingTool',
        deviceUuid: 'S-1',
        timestamp: isoTimestamp(0),
        body: '<CuttingTool assetId="T1" serialNumber="42"><CuttingToolLifeCycle><ToolLife type="PART_COUNT">7</ToolLife></CuttingToolLifeCycle></CuttingTool>',
      }),
    },
    {
      key: 'T2',
      value: encodeAssetDocument({
        assetId: 'T2',
        type: 'CuttingTool',
        deviceUuid: 'S-1',
        timestamp: isoTimestamp(0),
        body: '<CuttingTool><unclosed>',
      }),
    },
  ])
  await eventually(() => (serving.documents.get('T2') ? true : undefined))
  const all = await app.inject('/mtconnect/assets')
  assert.equal(all.statusCode, 200)
  assert.equal(wellFormed(all.body), 'MTConnectAssets')
  assert.match(all.body, /assetCount="2"/)
  assert.match(
    all.body,
    /<CuttingTool assetId="T1" serialNumber="42" timestamp="[^"]+" deviceUuid="S-1"><CuttingToolLifeCycle><ToolLife type="PART_COUNT">7<\/ToolLife>/,
  )
  // A body that is not well-formed is its element's text, escaped: the document stays well-formed.
  assert.match(all.body, /<CuttingTool assetId="T2" [^>]*>&lt;CuttingTool&gt;&lt;unclosed&gt;<\/CuttingTool>/)
  const one = await app.inject({ url: '/mtconnect/asset/T1;T9', headers: { accept: 'application/json' } })
  assert.equal(one.statusCode, 200)
  assert.deepEqual(one.json().MTConnectAssets.Assets.CuttingTool[0].CuttingToolLifeCycle.ToolLife, {
    type: 'PART_COUNT',
    value: '7',
  })
  assert.equal((await app.inject('/mtconnect/S-1/assets?type=Part')).body.includes('<CuttingTool'), false)
  assert.equal((await app.inject('/mtconnect/assets?count=1')).body.match(/<CuttingTool /g)?.length, 1)
})

/** The raw multipart stream: its parts, read until `n` came or the time is up. */
function readParts(
  url: string,
  n: number,
): Promise<{ contentType: string; parts: { headers: string; body: string }[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const contentType = String(res.headers['content-type'])
      const boundary = grab(contentType, /boundary=([^;\s]+)/)
      let buf = ''
      const parts: { headers: string; body: string }[] = []
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        buf += d
        for (;;) {
          const start = buf.indexOf(`--${boundary}\r\n`)
          const headEnd = buf.indexOf('\r\n\r\n', start)
          if (start < 0 || headEnd < 0) break
          const headers = buf.slice(start, headEnd)
          const length = Number(grab(headers, /Content-length: (\d+)/))
          const bodyStart = headEnd + 4
          if (Buffer.byteLength(buf.slice(bodyStart)) < length + 2) break
          const body = Buffer.from(buf.slice(bodyStart)).subarray(0, length).toString()
          parts.push({ headers, body })
          buf = buf.slice(bodyStart + body.length + 2)
          if (parts.length === n) {
            req.destroy()
            resolve({ contentType, parts })
            return
          }
        }
      })
      res.on('end', () => resolve({ contentType, parts }))
    })
    req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)))
  })
}

test('interval streaming: parts as data comes, heartbeats when none; pymtconnect reads them; the stream cap', async (t) => {
  const { log, url } = await setUp(t, { heartbeatMs: 200, maxStreams: 1, minIntervalMs: 10 })
  // pymtconnect's stream_sample (JSON, one document per line of each part): from now on, heartbeats then data.
  // An event every 500 ms while the client reads: parts with data between heartbeats (every 200 ms).
  let reading = true
  const feeding = (async () => {
    for (let i = 0; reading && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 500))
      await publish(log, 'S-1', [sample('exec', i % 2 ? 'ACTIVE' : 'READY')])
    }
  })()
  const streamed = await client<{
    start: { nextSequence: number }
    parts: {
      header: { nextSequence: number; firstSequence: number }
      events: { dataItemId: string; value: string; sequence: number }[]
    }[]
  }>(['stream', url, '50', '12']).finally(() => {
    reading = false
  })
  await feeding
  assert.equal(streamed.parts.length, 12)
  const withData = streamed.parts.filter((p) => p.events.length > 0)
  const heartbeats = streamed.parts.filter((p) => p.events.length === 0)
  assert.ok(heartbeats.length >= 1, 'heartbeats while nothing came')
  assert.ok(withData.length >= 1, 'parts with the events')
  for (const p of withData) for (const e of p.events) assert.match(e.value, /^(ACTIVE|READY)$/)
  // Each part goes on from the one before: nextSequence never goes back, no event twice.
  const seen = withData.flatMap((p) => p.events.map((e) => e.sequence))
  assert.equal(new Set(seen).size, seen.length)
  let prev = streamed.start.nextSequence
  for (const p of streamed.parts) {
    assert.ok(p.header.nextSequence >= prev)
    prev = p.header.nextSequence
  }

  // The raw parts: boundary, Content-type, Content-length, one well-formed document each.
  const raw = await readParts(`${url}/sample?interval=20&heartbeat=50&from=1&count=2`, 3)
  assert.match(raw.contentType, /^multipart\/x-mixed-replace;boundary=/)
  assert.equal(raw.parts.length, 3)
  for (const p of raw.parts) {
    assert.match(p.headers, /Content-type: text\/xml; charset=utf-8/)
    assert.equal(wellFormed(p.body), 'MTConnectStreams')
  }
  // count=2 per part, in order, each part going on from the last one's nextSequence.
  const seqs = raw.parts.flatMap((p) => [...p.body.matchAll(/sequence="(\d+)"/g)].map((m) => Number(m[1])))
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
  )
  assert.equal(new Set(seqs).size, seqs.length)

  // maxStreams = 1: while one is open, the next is refused with 503 TOO_MANY.
  const first = http.get(`${url}/sample?interval=1000`)
  first.on('error', () => {})
  await new Promise((r) => first.once('response', r))
  const refused = await new Promise<{ status: number; body: string }>((resolve) => {
    http.get(`${url}/sample?interval=1000`, (res) => {
      let body = ''
      res.on('data', (d) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
  })
  first.destroy()
  assert.equal(refused.status, 503)
  assert.equal(grab(refused.body, /errorCode="([A-Z_]+)"/), 'TOO_MANY')
})
