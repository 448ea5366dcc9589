// Issue 10, "Faults and bad input": the SHDR connector's items 3 (a flooding adapter starves the factory), 4 (the
// tail of a too-long line is read as data), 11 (unknown keys cost a log line and memory each) and 12 (AVAILABLE
// at TCP connect, and a 10-minute legacy timeout). Loopback only; every wait is bounded; nothing measures time.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import type net from 'node:net'
import { describe, test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { silentLogger, TOPICS, UNAVAILABLE } from '@openfactory/model'
import { BufferedWriter } from '../../src/buffered-writer.ts'
import { SHDR_LEGACY_TIMEOUT_MS, SHDR_MAX_LINE_BYTES } from '../../src/shdr/client.ts'
import { SHDR_MAX_LOGGED_UNKNOWN_KEYS, SHDR_MAX_UNKNOWN_KEYS, ShdrMapper } from '../../src/shdr/mapper.ts'
import { parseShdrLine, type ShdrDataLine } from '../../src/shdr/parser.ts'
import { createShdrConnector, shdrDeviceFromData } from '../../src/shdr/shdr-connector.ts'
import { createSupervisor } from '../../src/supervisor.ts'
import { createTestLog, observationsOf, readAll } from '../helpers.ts'
import { shdrClient as client, FAST, last, rawServer, startAdapter, startConnector, waitFor } from '../shdr/helpers.ts'

/** The log, with appends held while the gate is closed (a log that cannot keep up, or is stuck). */
function gatedLog(log: EventLog): { log: EventLog; close(): void; open(): void } {
  let held: Promise<void> | null = null
  let release = (): void => {}
  const gated = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (topic: string, records: unknown[]) => {
          while (held) await held
          return target.append(topic, records as never)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return {
    log: gated,
    close: () => {
      held ??= new Promise<void>((r) => {
        release = r
      })
    },
    open: () => {
      held = null
      release()
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('issue 10 item 3: one flooding source is slowed or shed alone', { timeout: 30_000 }, () => {
  test('the writer: past its high-water mark a source is congested alone; past its cap only its oldest records are dropped, counted under its name', async (t) => {
    const { log } = await createTestLog(t)
    const gate = gatedLog(log)
    gate.close()
    const writer = new BufferedWriter({
      eventLog: gate.log,
      maxBatch: 5,
      highWaterPerSource: 10,
      maxBufferedPerSource: 20,
      logger: silentLogger,
    })
    const put = (source: string, value: string) => writer.write(TOPICS.assets, { key: source, value }, source)
    put('good', 'g0') // the pump takes it at once: in flight behind the closed gate
    for (let i = 0; i < 100; i++) put('flood', `f${i}`)
    for (let i = 1; i < 5; i++) put('good', `g${i}`)

    assert.equal(writer.congested('flood'), true)
    assert.equal(writer.congested('good'), false)
    let writable = false
    void writer.whenWritable('flood').then(() => {
      writable = true
    })
    await writer.whenWritable('good') // not congested: at once
    const held = writer.stats()
    assert.equal(held.dropped, 80)
    assert.deepEqual(held.droppedBy, { flood: 80 })
    assert.equal(writable, false, 'congested until the log takes its records')

    gate.open()
    await writer.flush()
    await waitFor(() => writable, 'flood writable once its records are written')
    assert.equal(writer.congested('flood'), false)
    await writer.close(1000)

    const values = (source: string) =>
      readAll(log, TOPICS.assets).then((rs) =>
        rs.filter((r) => r.key?.toString() === source).map((r) => r.value?.toString()),
      )
    assert.deepEqual(await values('good'), ['g0', 'g1', 'g2', 'g3', 'g4'], 'the well-behaved source loses nothing')
    assert.deepEqual(
      await values('flood'),
      Array.from({ length: 20 }, (_, i) => `f${80 + i}`),
      "only the flooder's oldest records are dropped; the rest keep their order",
    )
    const s = writer.stats()
    assert.equal(s.dropped, 80)
    assert.deepEqual(s.droppedBy, { flood: 80 })
    assert.equal(s.written, 25)
  })

  test('the writer: past the limit of all sources together, the source with the most records waiting pays', async (t) => {
    const { log } = await createTestLog(t)
    const gate = gatedLog(log)
    gate.close()
    const writer = new BufferedWriter({ eventLog: gate.log, maxBuffered: 30, logger: silentLogger })
    const put = (source: string, value: string) => writer.write(TOPICS.assets, { key: source, value }, source)
    put('good', 'g0') // in flight behind the closed gate
    for (let i = 0; i < 40; i++) put('flood', `f${i}`)
    for (let i = 1; i < 5; i++) put('good', `g${i}`)
    assert.deepEqual(writer.stats().droppedBy, { flood: 15 }) // f29..f39 pushed the total past 30, then g1..g4
    assert.equal(writer.stats().buffered, 30)
    gate.open()
    await writer.flush()
    await writer.close(1000)
    const records = await readAll(log, TOPICS.assets)
    const values = (source: string) =>
      records.filter((r) => r.key?.toString() === source).map((r) => r.value?.toString())
    assert.deepEqual(values('good'), ['g0', 'g1', 'g2', 'g3', 'g4'])
    assert.deepEqual(
      values('flood'),
      Array.from({ length: 25 }, (_, i) => `f${15 + i}`),
    )
  })

  test('a flooding SHDR adapter is paused (its socket no longer read) while a well-behaved one on the same supervisor loses nothing', async (t) => {
    const { log } = await createTestLog(t)
    const gate = gatedLog(log)
    gate.close() // a log that does not keep up: nothing is written until the gate opens

    // The flooder: a loopback adapter writing lines of 300 observations as fast as the socket takes them.
    const floodLine = `${Array.from({ length: 300 }, (_, i) => `|k|${i}`).join('')}\n`
    const block = floodLine.repeat(64)
    let flooding = true
    let floodSocket: net.Socket | undefined
    const floodPort = await rawServer(t, (s) => {
      floodSocket = s
      const pump = (): void => {
        while (flooding && !s.destroyed) if (!s.write(block)) return void s.once('drain', pump)
      }
      pump()
    })
    const flooder = createShdrConnector({
      uuid: 'FLOOD',
      host: '127.0.0.1',
      port: floodPort,
      data: { k: { tag: 'Count', type: 'Events' } },
      timings: { ...FAST, legacyTimeoutMs: 300 },
    })
    // The well-behaved adapter: answers PING, sends 30 values.
    const adapter = await startAdapter(t, { heartbeatMs: 100 })
    const good = createShdrConnector({
      uuid: 'GOOD',
      host: '127.0.0.1',
      port: adapter.port,
      data: { temp: { tag: 'Temperature', type: 'Samples' } },
      timings: FAST,
    })

    const sup = createSupervisor({
      eventLog: gate.log,
      logger: silentLogger,
      heartbeatMs: 1000,
      highWaterPerConnector: 100,
      maxBufferedPerConnector: 200,
    })
    sup.add(flooder)
    sup.add(good)
    t.after(() => sup.stop())
    await sup.start()

    await waitFor(() => good.stats().connected && good.stats().lines > 0, 'the good adapter heard', 8000)
    for (let i = 0; i < 30; i++) adapter.sendValues({ temp: i })
    await waitFor(() => good.stats().observations >= 30, 'the good values read', 8000)

    // The flooder is congested: its client stops reading, so the kernel buffers fill and its adapter must wait.
    await waitFor(() => flooder.stats().paused === true, 'the flooder paused', 8000)
    await waitFor(() => floodSocket?.writableNeedDrain === true, "the flooding adapter's writes held back", 8000)
    const linesWhilePaused = flooder.stats().lines
    await sleep(600) // twice its legacy timeout: a paused adapter is not declared dead because we stopped reading
    assert.equal(flooder.stats().lines, linesWhilePaused, 'nothing is read while paused')
    assert.equal(flooder.stats().disconnects, 0, 'the paused adapter is not declared dead')
    assert.equal(good.stats().paused, false)

    const held = sup.writerStats()
    assert.ok((held.droppedBy.FLOOD ?? 0) > 0, 'the overflow is shed from the flooder')
    assert.equal(held.droppedBy.GOOD, undefined, 'nothing of the well-behaved connector is dropped')

    gate.open()
    await waitFor(() => flooder.stats().lines > linesWhilePaused, 'the flooder read again once writable', 8000)
    flooding = false
    await sup.flush()
    const temps = (await observationsOf(log, 'GOOD'))
      .filter((o) => o.id === 'temp' && o.value !== UNAVAILABLE)
      .map((o) => o.value)
    assert.deepEqual(
      temps,
      Array.from({ length: 30 }, (_, i) => i),
      'every value of the well-behaved adapter is on the log, in order',
    )
    const s = sup.writerStats()
    assert.deepEqual(Object.keys(s.droppedBy), ['FLOOD'])
    assert.equal(s.dropped, s.droppedBy.FLOOD)
    await sup.stop()
  })
})

describe('issue 10 item 4: a too-long SHDR line is discarded through its newline', { timeout: 30_000 }, () => {
  test('the tail of a too-long line, arriving after the limit was passed, is not read as lines', async (t) => {
    const head = `|a|${'x'.repeat(1500)}`
    const tail = '|a|tail|a|tail2'
    const port = await rawServer(t, (s) => {
      s.write(head, () => setTimeout(() => s.write(`${tail}\n|b|2\n`), 50))
    })
    const lines: string[] = []
    const overflows: number[] = []
    client(t, { port, maxLineBytes: 1000, onLine: (l) => lines.push(l), onOverflow: (n) => overflows.push(n) })
    await waitFor(() => lines.includes('|b|2'), 'the line after the long one')
    assert.deepEqual(lines, ['|b|2'])
    assert.deepEqual(overflows, [head.length + tail.length], 'reported once, with its length')
  })

  test('the limit counts UTF-8 bytes, not characters', async (t) => {
    const long = `|m|${'€'.repeat(600)}` // 603 characters, 1803 bytes
    const port = await rawServer(t, (s) => s.write(`${long}\n|b|€\n`))
    const lines: string[] = []
    const overflows: number[] = []
    client(t, { port, maxLineBytes: 1000, onLine: (l) => lines.push(l), onOverflow: (n) => overflows.push(n) })
    await waitFor(() => lines.includes('|b|€'), 'the line after the long one')
    assert.deepEqual(lines, ['|b|€'])
    assert.deepEqual(overflows, [Buffer.byteLength(long)])
  })

  test('a 3 MiB line through the connector: malformed once, nothing of it published', async (t) => {
    const port = await rawServer(t, (s) => {
      s.write(`${'|k|1'.repeat((3 * 1024 * 1024) / 4)}\n`)
      s.write('|k|done\n')
    })
    const connector = createShdrConnector({
      uuid: 'LONG',
      host: '127.0.0.1',
      port,
      data: { k: { tag: 'Count', type: 'Events' } },
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    const done = () =>
      ctx.calls.some((c) => c.call === 'publish' && c.observations.some((o) => o.id === 'k' && o.value === 'done'))
    await waitFor(done, 'the line after the long one', 8000)
    const values = ctx
      .observations('LONG')
      .filter((o) => o.value !== UNAVAILABLE)
      .map((o) => o.value)
    assert.deepEqual(values, ['done'])
    assert.deepEqual(connector.stats().malformedByReason, { 'line-too-long': 1 })
  })
})

function dataLine(text: string, lineNo: number): ShdrDataLine {
  const l = parseShdrLine(text, lineNo)
  assert.equal(l.kind, 'data')
  return l as ShdrDataLine
}

describe('issue 10 item 11: unknown SHDR keys are remembered and logged within bounds', { timeout: 30_000 }, () => {
  test('the mapper remembers a bounded set of unknown keys; the others are counted together', () => {
    const mapper = new ShdrMapper({
      devices: [shdrDeviceFromData('D', { temp: { tag: 'Temperature', type: 'Samples' } })],
    })
    const n = SHDR_MAX_UNKNOWN_KEYS + 4000
    let reportedNew = 0
    for (let i = 0; i < n; i++) reportedNew += mapper.map(dataLine(`|u${i}|1|temp|${i}`, i + 1)).newUnknownKeys.length
    mapper.map(dataLine('|u0|1', n + 1)) // a remembered one again
    const s = mapper.stats()
    assert.equal(Object.keys(s.unknownKeys).length, SHDR_MAX_UNKNOWN_KEYS)
    assert.equal(s.unknownKeys.u0, 2)
    assert.equal(s.unknownKeysOther, 4000)
    assert.equal(reportedNew, SHDR_MAX_UNKNOWN_KEYS)
    assert.equal(s.observations, n, 'the known key of every line is still read')
  })

  test('the connector logs the first unknown keys by name, then sums the others up', async (t) => {
    const adapter = await startAdapter(t, { heartbeatMs: 1000 })
    const connector = createShdrConnector({
      uuid: 'UK',
      host: '127.0.0.1',
      port: adapter.port,
      data: { temp: { tag: 'Temperature', type: 'Samples' } },
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    await adapter.waitForClients(1, 4000)
    const distinct = 500
    for (let i = 0; i < distinct; i++) adapter.send(`|unknown${i}|1`)
    adapter.send('|temp|7')
    await waitFor(() => last(ctx.observations('UK'), 'temp')?.value === 7, 'the last line')
    const byName = ctx.logs.filter((l) => typeof l.fields?.key === 'string' && /no data item/.test(l.message))
    assert.equal(byName.length, SHDR_MAX_LOGGED_UNKNOWN_KEYS)
    assert.ok(ctx.logs.length < 3 * SHDR_MAX_LOGGED_UNKNOWN_KEYS, `${ctx.logs.length} log lines for ${distinct} keys`)
    adapter.disconnectClients() // the summary of the connection
    await waitFor(() => ctx.logs.some((l) => l.fields?.unknownKeys !== undefined), 'a summary line')
    const summary = ctx.logs.find((l) => l.fields?.unknownKeys !== undefined)
    assert.equal(summary?.fields?.unknownKeys, distinct - SHDR_MAX_LOGGED_UNKNOWN_KEYS)
  })
})

describe('issue 10 item 12: AVAILABLE once the adapter has said something', { timeout: 30_000 }, () => {
  test('a silent adapter is not AVAILABLE at TCP connect; its first line makes it so, again after a reconnect', async (t) => {
    const sockets: net.Socket[] = []
    const pinged: number[] = []
    const port = await rawServer(t, (s) => {
      const n = sockets.push(s)
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        if (d.includes('* PING')) pinged.push(n)
      })
    })
    const connector = createShdrConnector({
      uuid: 'SILENT',
      host: '127.0.0.1',
      port,
      data: { temp: { tag: 'Temperature', type: 'Samples' } },
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    await waitFor(() => pinged.includes(1), 'connected and PINGed')
    await sleep(100)
    assert.ok(!ctx.availability('SILENT').some((a) => a.available), 'not AVAILABLE before any data')

    sockets[0]?.write('|temp|5\n')
    await waitFor(() => ctx.availability('SILENT').at(-1)?.available === true, 'AVAILABLE after a data line')
    const availableAt = ctx.calls.findIndex((c) => c.call === 'setAvailable' && c.available)
    const publishedAt = ctx.calls.findIndex(
      (c) => c.call === 'publish' && c.observations.some((o) => o.id === 'temp' && o.value === 5),
    )
    assert.ok(availableAt < publishedAt, 'AVAILABLE before the values of the line that proved it alive')

    sockets[0]?.destroy()
    await waitFor(() => ctx.availability('SILENT').at(-1)?.available === false, 'UNAVAILABLE once closed')
    await waitFor(() => pinged.includes(2), 'reconnected and PINGed')
    await sleep(100)
    assert.equal(ctx.availability('SILENT').at(-1)?.available, false, 'not AVAILABLE again before data')
    sockets[1]?.write('* PONG 1000\n')
    await waitFor(() => ctx.availability('SILENT').at(-1)?.available === true, 'AVAILABLE after a PONG')
  })

  test('the legacy timeout is 60 s by default, and the documented limits are the ones in the code', () => {
    assert.equal(SHDR_LEGACY_TIMEOUT_MS, 60_000)
    const doc = readFileSync(new URL('../../../../docs/reference/connectors.md', import.meta.url), 'utf8')
    const n = (v: number) => v.toLocaleString('en-US').replaceAll(',', ' ')
    assert.ok(doc.includes(`${n(SHDR_LEGACY_TIMEOUT_MS)} ms`), 'legacy timeout documented')
    assert.ok(doc.includes(`${n(SHDR_MAX_LINE_BYTES)} bytes`), 'line limit documented in bytes')
    assert.ok(doc.includes(`${n(SHDR_MAX_UNKNOWN_KEYS)} distinct unknown keys`), 'unknown-key memory documented')
    assert.ok(doc.includes(`first ${SHDR_MAX_LOGGED_UNKNOWN_KEYS} unknown keys`), 'unknown-key log budget documented')
  })
})

describe('fault suite: an adapter that sends binary bytes', { timeout: 30_000 }, () => {
  test('bytes that are not UTF-8 text (NULs, 0xFF, lone continuation bytes, CRs) are malformed or escaped values; the connection goes on', async (t) => {
    // Deterministic pseudo-random bytes, with and without newlines among them.
    let x = 0x2545f491
    const noise = Buffer.alloc(64 * 1024)
    for (let i = 0; i < noise.length; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      noise[i] = x & 0xff
    }
    const port = await rawServer(t, (s) => {
      s.write('|k|before\n')
      s.write(noise)
      s.write(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x0a])) // ends the last noisy line
      s.write('|k|after\n')
    })
    const connector = createShdrConnector({
      uuid: 'BIN',
      host: '127.0.0.1',
      port,
      data: { k: { tag: 'Count', type: 'Events' } },
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    const seen = () => ctx.observations('BIN').filter((o) => o.id === 'k' && o.value !== UNAVAILABLE)
    await waitFor(() => seen().some((o) => o.value === 'after'), 'the line after the binary bytes', 8000)
    const values = seen().map((o) => o.value)
    assert.equal(values[0], 'before')
    assert.equal(values.at(-1), 'after')
    assert.ok(connector.stats().connected, 'the connection stays open')
    assert.equal(connector.stats().disconnects, 0)
    // Noise lines that happened to parse became text values (undecodable bytes as U+FFFD), never anything else.
    for (const v of values) assert.equal(typeof v, 'string')
  })
})
