import assert from 'node:assert/strict'
import { test } from 'node:test'
import { childLogger, createLogger, type DebugLogger, silentLogger } from '../src/logger.ts'

/** A destination keeping every line, parsed. */
function lines(): { readonly write: (s: string) => void; readonly got: Record<string, unknown>[] } {
  const got: Record<string, unknown>[] = []
  return { got, write: (s: string) => void got.push(JSON.parse(s)) }
}

test('createLogger writes one JSON object per line: level as text, ISO time, name, fields, message', () => {
  const out = lines()
  const logger = createLogger({ name: 'ofa', level: 'info', destination: out })
  logger.info('connector running', { connector: 'CNC-1', restarts: 2 })
  logger.warn('no fields')
  assert.equal(out.got.length, 2)
  const [first, second] = out.got
  assert.equal(first?.level, 'info')
  assert.equal(first?.name, 'ofa')
  assert.equal(first?.msg, 'connector running')
  assert.equal(first?.connector, 'CNC-1')
  assert.equal(first?.restarts, 2)
  assert.match(String(first?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.equal(typeof first?.pid, 'number')
  assert.deepEqual([second?.level, second?.msg], ['warn', 'no fields'])
})

test('createLogger: levels below the chosen one are not written; OFA_LOG_LEVEL is the default', () => {
  const out = lines()
  const logger = createLogger({ level: 'warn', destination: out })
  logger.debug('d')
  logger.info('i')
  logger.warn('w')
  logger.error('e', { code: 'OFA_LOG_IO' })
  assert.deepEqual(
    out.got.map((l) => [l.level, l.msg]),
    [
      ['warn', 'w'],
      ['error', 'e'],
    ],
  )
  const saved = process.env.OFA_LOG_LEVEL
  try {
    process.env.OFA_LOG_LEVEL = 'debug'
    const debug = lines()
    createLogger({ destination: debug }).debug('seen')
    assert.equal(debug.got[0]?.msg, 'seen')
    process.env.OFA_LOG_LEVEL = 'chatty' // not a level: info
    const info = lines()
    const l = createLogger({ destination: info })
    l.debug('not seen')
    l.info('seen')
    assert.deepEqual(
      info.got.map((x) => x.msg),
      ['seen'],
    )
  } finally {
    if (saved === undefined) delete process.env.OFA_LOG_LEVEL
    else process.env.OFA_LOG_LEVEL = saved
  }
  assert.throws(() => createLogger({ level: 'loud' as never, destination: out }), /level must be one of/)
})

test('children carry their fields on every line; the pino instance is exposed', () => {
  const out = lines()
  const root = createLogger({ name: 'ofa', level: 'debug', destination: out })
  const supervisor = root.child({ component: 'supervisor' })
  const connector = childLogger(supervisor, { connector: 'SIM-1' })
  connector.debug('tick', { n: 1 })
  assert.deepEqual(
    [out.got[0]?.name, out.got[0]?.component, out.got[0]?.connector, out.got[0]?.n, out.got[0]?.msg],
    ['ofa', 'supervisor', 'SIM-1', 1, 'tick'],
  )
  assert.equal(typeof root.pino.child, 'function')
  assert.equal(root.pino.level, 'debug')
})

test('childLogger wraps any logger; silentLogger discards', () => {
  const seen: [string, Record<string, unknown> | undefined][] = []
  const plain: DebugLogger = {
    debug: (m, f) => seen.push([m, f]),
    info: (m, f) => seen.push([m, f]),
    warn: (m, f) => seen.push([m, f]),
    error: (m, f) => seen.push([m, f]),
  }
  const child = childLogger(plain, { connector: 'A' })
  child.info('one')
  child.error('two', { error: 'boom', connector: 'B' })
  assert.deepEqual(seen, [
    ['one', { connector: 'A' }],
    ['two', { connector: 'B', error: 'boom' }],
  ])
  silentLogger.error('nothing')
  childLogger(silentLogger, { a: 1 }).info('nothing either')
})
