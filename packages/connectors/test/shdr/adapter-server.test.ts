import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { describe, type TestContext, test } from 'node:test'
import { parseShdrLine } from '../../src/shdr/parser.ts'
import { startAdapter, waitFor } from './helpers.ts'

/** A plain TCP client that records the lines it receives and can write lines; closed after the test. */
async function listen(t: TestContext, port: number): Promise<{ lines: string[]; write(line: string): void }> {
  const socket = net.createConnection({ host: '127.0.0.1', port })
  t.after(() => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.setEncoding('utf8')
  const lines: string[] = []
  let buf = ''
  socket.on('data', (d: string) => {
    buf += d
    const parts = buf.split('\n')
    buf = parts.pop() ?? ''
    lines.push(...parts)
  })
  return { lines, write: (line) => socket.write(`${line}\n`) }
}

/** The lines without their timestamps, for comparing snapshots. */
function bodies(lines: readonly string[]): string[] {
  return lines.map((l) => (/^\d{4}-/.test(l) ? l.slice(l.indexOf('|')) : l))
}

describe('our SHDR adapter server', () => {
  test('answers PING with its heartbeat and greets a new client with a snapshot of the current state', async (t) => {
    const server = await startAdapter(t, { heartbeatMs: 1234, headerLines: ['* adapterVersion: test'] })
    const lines = [
      '* shdrVersion: 2',
      '2025-01-01T00:00:00Z|Xact|1|mode|AUTOMATIC',
      '2025-01-01T00:00:01Z|Xact|2',
      '2025-01-01T00:00:02Z|system|FAULT|E1|1||Fault one',
      '2025-01-01T00:00:03Z|system|FAULT|E2|1||Fault two',
      '2025-01-01T00:00:04Z|system|NORMAL|E1|||',
      '2025-01-01T00:00:05Z|htemp|WARNING|T1|1|HIGH|Hot',
      '2025-01-01T00:00:06Z|htemp|NORMAL||||',
      '2025-01-01T00:00:07Z|msg|M1|Hello world',
      '2025-01-01T00:00:08Z|Svib|3|100|1 2 3',
      '2025-01-01T00:00:09Z|@ASSET@|T1|CuttingTool|--multiline--Q',
      '<CuttingTool/>',
      '--multiline--Q',
      '2025-01-01T00:00:10Z|@ASSET@|T2|CuttingTool|<CuttingTool id="2"/>',
      '2025-01-01T00:00:11Z|@REMOVE_ASSET@|T2',
    ]
    for (const l of lines) server.send(l)
    const c = await listen(t, server.port)
    c.write('* PING')
    await waitFor(() => c.lines.includes('* PONG 1234'), 'PONG')
    const snap = c.lines.filter((l) => l !== '* PONG 1234')
    assert.deepEqual(bodies(snap), [
      '* adapterVersion: test',
      '* shdrVersion: 2',
      '|Xact|2',
      '|mode|AUTOMATIC',
      '|system|FAULT|E2|1||Fault two',
      '|htemp|NORMAL||||',
      '|msg|M1|Hello world',
      '|Svib|3|100|1 2 3',
      '|@ASSET@|T1|CuttingTool|--multiline--SNAP1',
      '<CuttingTool/>',
      '--multiline--SNAP1',
    ])
    for (const l of snap.filter((x) => /^\d/.test(x))) {
      assert.equal(parseShdrLine(l, 1).kind === 'data' || parseShdrLine(l, 1).kind === 'asset-begin', true, l)
    }
    // Live lines follow to every client.
    server.sendValues({ Xact: 3.5, note: 'a|b' })
    await waitFor(() => c.lines.some((l) => l.endsWith('|Xact|3.5|note|"a|b"')), 'a live line, quoted where needed')
    assert.equal(server.clientCount, 1)
  })

  test('replays a log faster than real time, in order, stamped with now', async (t) => {
    const server = await startAdapter(t)
    const c = await listen(t, server.port)
    await server.waitForClients(1, 2000)
    const log = [
      '* shdrVersion: 1',
      '2025-01-01T00:00:00.000Z|a|1',
      '2025-01-01T00:00:00.100Z@2|a|2',
      '|b|x',
      '2025-01-01T00:00:00.300Z|a|3',
    ]
    const started = Date.now()
    const stats = await server.play({ lines: log, speed: 10 })
    assert.deepEqual(stats, { lines: 5, loops: 1 })
    await waitFor(() => c.lines.length === 5, 'five lines')
    assert.deepEqual(
      c.lines.map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z/, 'NOW')),
      ['* shdrVersion: 1', 'NOW|a|1', 'NOW@2|a|2', '|b|x', 'NOW|a|3'],
    )
    const stamped = c.lines.filter((l) => l.startsWith('20')).map((l) => Date.parse(l.slice(0, 24)))
    assert.ok(stamped.every((ms) => ms >= started - 1000))
    const kept = await startAdapter(t)
    const k = await listen(t, kept.port)
    await kept.waitForClients(1, 2000)
    await kept.play({ lines: log, speed: Number.POSITIVE_INFINITY, rewriteTimestamps: false })
    await waitFor(() => k.lines.length === 5, 'five lines')
    assert.deepEqual(k.lines, log)
  })

  test('loops until aborted', async (t) => {
    const server = await startAdapter(t)
    const abort = new AbortController()
    const playing = server.play({
      lines: ['|a|1', '|a|2'],
      speed: Number.POSITIVE_INFINITY,
      loop: true,
      signal: abort.signal,
    })
    await new Promise((r) => setTimeout(r, 30))
    abort.abort()
    const stats = await playing
    assert.ok(stats.loops >= 2, `${stats.loops} loops`)
  })

  test('adapter-main.ts serves a file on the port it is given', async (t) => {
    const script = new URL('../../src/shdr/adapter-main.ts', import.meta.url).pathname
    const file = new URL('../fixtures/shdr/mill-3axis.shdr', import.meta.url).pathname
    const child = spawn(process.execPath, [script, '--file', file, '--port', '0', '--speed', '1000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    t.after(() => child.kill('SIGKILL'))
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(out), 'the listening line', 8000)
    const port = Number(/:(\d+)/.exec(out)?.[1])
    const c = await listen(t, port)
    c.write('* PING')
    await waitFor(() => c.lines.includes('* PONG 10000'), 'PONG from the process')
    await waitFor(() => c.lines.some((l) => l.includes('|part_count|')), 'replayed data')
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  })

  test('adapter-main.ts refuses a bad command line with exit status 2', async () => {
    const script = new URL('../../src/shdr/adapter-main.ts', import.meta.url).pathname
    const child = spawn(process.execPath, [script, '--port', '7878'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
    })
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
    assert.equal(code, 2)
    assert.match(err, /--file is required/)
  })
})
