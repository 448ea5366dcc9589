import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, test } from 'node:test'
import { createShdrClient } from '../../src/shdr/client.ts'
import { shdrClient as client, rawServer, waitFor } from './helpers.ts'

describe('ShdrClient', () => {
  test('splits lines across any chunk boundary, CR LF and multi-byte UTF-8 included', async (t) => {
    const text = '2025-01-01T00:00:00Z|temp|21\r\n|msg|M1|Température élevée ✓\n|a|1\r\n\n|b|2\n'
    const bytes = Buffer.from(text, 'utf8')
    const port = await rawServer(t, (s) => {
      let i = 0
      const step = (): void => {
        if (i >= bytes.length || s.destroyed) return
        s.write(bytes.subarray(i, i + 1 + (i % 3))) // 1..3 bytes at a time: splits CR LF and code points
        i += 1 + (i % 3)
        setImmediate(step)
      }
      step()
    })
    const lines: string[] = []
    client(t, { port, onLine: (l) => lines.push(l) })
    await waitFor(() => lines.length === 5, 'five lines')
    assert.deepEqual(lines, ['2025-01-01T00:00:00Z|temp|21', '|msg|M1|Température élevée ✓', '|a|1', '', '|b|2'])
  })

  test('a line longer than the limit is dropped and reported; the next lines still arrive', async (t) => {
    const port = await rawServer(t, (s) => {
      s.write(`|a|${'x'.repeat(5000)}`)
      setTimeout(() => s.write(`${'y'.repeat(5000)}\n|b|2\n`), 20)
    })
    const lines: string[] = []
    const overflows: number[] = []
    client(t, { port, maxLineBytes: 1000, onLine: (l) => lines.push(l), onOverflow: (n) => overflows.push(n) })
    await waitFor(() => lines.includes('|b|2'), 'the line after the long one')
    assert.ok(overflows.length >= 1)
    assert.ok(!lines.some((l) => l.length > 1000))
  })

  test('sends * PING on connect, keeps the announced heartbeat, PINGs every heartbeat', async (t) => {
    const received: string[] = []
    const port = await rawServer(t, (s) => {
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        for (const l of d.split('\n').filter(Boolean)) {
          received.push(l)
          if (l === '* PING') s.write('* PONG 50\n')
        }
      })
    })
    const pongs: number[] = []
    const c = client(t, { port, onLine: () => {}, onPong: (hb) => pongs.push(hb) })
    await waitFor(() => received.length >= 4, 'four PINGs')
    assert.ok(received.every((l) => l === '* PING'))
    assert.equal(c.heartbeatMs, 50)
    assert.ok(pongs.every((p) => p === 50))
    await waitFor(() => c.send('* hello: 1'), 'a line sent to the adapter')
  })

  test('a legacy adapter (never answers PING) is dropped after legacyTimeoutMs of silence, then retried', async (t) => {
    let connections = 0
    const port = await rawServer(t, (s) => {
      connections++
      s.write('|a|1\n')
    })
    const reasons: string[] = []
    client(t, { port, legacyTimeoutMs: 80, onLine: () => {}, onDisconnect: (r) => reasons.push(r) })
    await waitFor(() => reasons.length >= 1 && connections >= 2, 'timeout and reconnection')
    assert.match(reasons[0] ?? '', /no data for 80 ms \(legacy adapter timeout\)/)
  })

  test('an adapter that stops answering PING is dropped after the first unanswered PING, not the second', async (t) => {
    // The fake answers the PING sent on connecting and the first periodic one, then goes silent (socket open).
    const first = { pings: 0, unanswered: 0, closed: false }
    let connections = 0
    const port = await rawServer(t, (s) => {
      const mine = ++connections === 1
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        if (!mine) return
        for (const l of d.split('\n').filter((x) => x === '* PING')) {
          first.pings++
          if (first.pings <= 2) s.write(`${l.replace('PING', 'PONG')} 40\n`)
          else first.unanswered++
        }
      })
      if (mine) s.on('close', () => (first.closed = true))
    })
    const reasons: string[] = []
    client(t, { port, onLine: () => {}, onDisconnect: (r) => reasons.push(r) })
    await waitFor(() => reasons.length >= 1 && first.closed, 'the silent adapter declared gone')
    assert.equal(first.unanswered, 1, 'declared gone when the second PING would be due, instead of sending it')
    assert.match(reasons[0] ?? '', /no PONG or data within 40 ms of a PING \(heartbeat 40 ms\)/)
  })

  test('the heartbeat override wins over the announced one', async (t) => {
    let pings = 0
    const port = await rawServer(t, (s) => {
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        pings += d.split('* PING').length - 1
        s.write('* PONG 100000\n')
      })
    })
    const c = client(t, { port, heartbeatMs: 30, onLine: () => {} })
    await waitFor(() => c.heartbeatMs === 30, 'override in force')
    await waitFor(() => pings >= 4, 'PINGs at the override rate, not every 100 s')
  })

  test('refused connections are retried with backoff and reported each time', async (t) => {
    const probe = net.createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise((r) => probe.close(r)) // nothing listens there now
    const failures: number[] = []
    const c = createShdrClient({
      host: '127.0.0.1',
      port,
      backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
      onLine: () => {},
      onConnectFailed: (_reason, retryInMs) => failures.push(retryInMs),
    })
    c.start()
    t.after(() => c.stop())
    await waitFor(() => failures.length >= 4, 'four failed attempts')
    assert.deepEqual(failures.slice(0, 4), [5, 10, 20, 20])
  })

  test('rejects a bad port at construction', () => {
    assert.throws(() => createShdrClient({ host: 'h', port: 0, onLine: () => {} }), /port must be 1..65535/)
  })
})
