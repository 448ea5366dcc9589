import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Type } from '@sinclair/typebox'
import { createOptionsChecker } from '../../src/config/index.ts'
import { isOpenFactoryError } from '../../src/errors.ts'

// Options of our own, shaped like an event log's and a forwarder's.
const Options = Type.Object(
  {
    dataDir: Type.String({ minLength: 1 }),
    segmentBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
    fsync: Type.Optional(Type.Union([Type.Literal('always'), Type.Literal('batch'), Type.Literal('never')])),
    topics: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z_]+$' }), { minItems: 1 })),
    forward: Type.Optional(
      Type.Object(
        { bootstrapServers: Type.Array(Type.String()), lingerMs: Type.Optional(Type.Number({ maximum: 1000 })) },
        { additionalProperties: false },
      ),
    ),
    logger: Type.Optional(Type.Any()),
  },
  { additionalProperties: false },
)

const checkOptions = createOptionsChecker(Options, { code: 'OFA_LOG_INVALID_ARGUMENT', what: 'EventLogOptions' })

test('valid options are returned as they are, typed', () => {
  const logger = { info: () => {} }
  const options = { dataDir: '/var/lib/ofa', segmentBytes: 1 << 20, fsync: 'batch', logger }
  const checked = checkOptions(options)
  assert.equal(checked, options)
  assert.equal(checked.segmentBytes, 1048576)
})

test('every problem in one error with the given code, each naming its field', () => {
  let err: unknown
  try {
    checkOptions({
      segmentBytes: '4096',
      fsync: 'sometimes',
      topics: ['ofa_assets', 'Bad Topic'],
      forward: { bootstrapServers: 'b:9092', lingerMs: 5000, linger: 1 },
      segmentByte: 1,
    })
  } catch (e) {
    err = e
  }
  assert.ok(isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'))
  assert.deepEqual(
    err.problems.map((p) => p.message),
    [
      'EventLogOptions.dataDir is required',
      'EventLogOptions.segmentByte is not an option (did you mean segmentBytes?)',
      'EventLogOptions.segmentBytes must be an integer, got "4096"',
      'EventLogOptions.fsync must be one of always, batch, never, got "sometimes"',
      'EventLogOptions.topics[1] must match ^[a-z_]+$, got "Bad Topic"',
      'EventLogOptions.forward.linger is not an option (did you mean lingerMs?)',
      'EventLogOptions.forward.bootstrapServers must be an array, got "b:9092"',
      'EventLogOptions.forward.lingerMs must be a number at most 1000, got 5000',
    ],
  )
  for (const p of err.problems) assert.equal(p.code, 'OFA_LOG_INVALID_ARGUMENT')
  assert.deepEqual(
    err.problems.map((p) => p.where?.path),
    [
      'dataDir',
      'segmentByte',
      'segmentBytes',
      'fsync',
      'topics[1]',
      'forward.linger',
      'forward.bootstrapServers',
      'forward.lingerMs',
    ],
  )
  assert.match(err.message, /^8 problems in EventLogOptions: EventLogOptions.dataDir is required; /)
})

test('one problem: its message is the error message; a value that is not an object', () => {
  assert.throws(
    () => checkOptions({ dataDir: '', segmentBytes: 10 }),
    (e: unknown) =>
      isOpenFactoryError(e, 'OFA_LOG_INVALID_ARGUMENT') &&
      e.message ===
        '2 problems in EventLogOptions: EventLogOptions.dataDir must not be empty; EventLogOptions.segmentBytes must be an integer at least 1024, got 10',
  )
  assert.throws(
    () => checkOptions({ dataDir: 'd', topics: [] }),
    (e: unknown) => isOpenFactoryError(e) && e.message === 'EventLogOptions.topics must have at least 1 item',
  )
  assert.throws(
    () => checkOptions(undefined),
    (e: unknown) => isOpenFactoryError(e) && e.message === 'EventLogOptions must be an object, got undefined',
  )
})
