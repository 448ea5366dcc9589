// The authoring API of TypeScript processors (define-processor.ts): definitions checked with every problem at once,
// asset records read and observations written with model's codec, and a definition over ofa_assets run by the
// runtime on every backbone — it does not read its own outputs, its times come from its inputs, its state and its
// outputs survive a restart exactly once.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import {
  AssetEvents,
  decodeAssetEvent,
  encodeAssetEvent,
  isOpenFactoryError,
  type Observation,
  type OpenFactoryError,
} from '@openfactory/model'
import {
  decodeAssetRecord,
  defineProcessor,
  observationRecord,
  type ProcessorDefinition,
} from '../../src/processor/define-processor.ts'
import { runProcessor } from '../../src/processor/run-processor.ts'
import { BACKBONES, readTopic, uniqueTopic, until } from './helpers.ts'

function problemsOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    assert.ok(isOpenFactoryError(err, 'OFA_PROCESSOR_INVALID'), String(err))
    return err.problems.map((p) => `${p.where?.path ?? ''}: ${p.message}`)
  }
  assert.fail('expected OFA_PROCESSOR_INVALID')
}

describe('defineProcessor', () => {
  test('defaults: ofa_assets in and out, no stores; the spec keeps its definition; defining twice is a no-op', () => {
    const def: ProcessorDefinition = { id: 'p1', process() {} }
    const spec = defineProcessor(def)
    assert.equal(spec.id, 'p1')
    assert.deepEqual(spec.inputs, ['ofa_assets'])
    assert.deepEqual(spec.outputs, ['ofa_assets'])
    assert.deepEqual(spec.stores, [])
    assert.equal(spec.definition, def)
    assert.equal(spec.onStreamTime, undefined)
    assert.equal(defineProcessor(spec), spec)
    assert.ok(Object.isFrozen(spec))
  })

  test('an invalid definition: one OFA_PROCESSOR_INVALID carrying every problem, each with its field', () => {
    const bad = { id: 'no good', inputs: [], outputs: ['a b'], stores: ['s', 's'], proccess() {} }
    assert.deepEqual(problemsOf(() => defineProcessor(bad as unknown as ProcessorDefinition)).sort(), [
      'id: ProcessorDefinition.id must be a name (letters, digits, ._-; at most 200 characters), got "no good"',
      'inputs: ProcessorDefinition.inputs must have at least 1 item',
      'outputs[0]: ProcessorDefinition.outputs[0] must be a topic name (letters, digits, ._-), got "a b"',
      'proccess: ProcessorDefinition.proccess is not an option (did you mean process?)',
      'process: ProcessorDefinition.process is required',
      'stores: ProcessorDefinition.stores names "s" twice',
    ])
    assert.deepEqual(
      problemsOf(() => defineProcessor({ id: 'CSAS_X_1', process: 'x', onStreamTime: 1 } as never)),
      [
        'process: ProcessorDefinition.process must be a function, got "x"',
        'onStreamTime: ProcessorDefinition.onStreamTime must be a function, got a number',
        'id: ProcessorDefinition.id "CSAS_X_1" has the form of a SQL query id (CSAS_, CTAS_, INSERTQUERY_)',
      ],
    )
    assert.deepEqual(
      problemsOf(() => defineProcessor(undefined as never)),
      [': ProcessorDefinition must be an object, got undefined'],
    )
  })
})

describe('asset records', () => {
  const sample: Observation = {
    id: 'spindle_load',
    value: 81.5,
    tag: 'Load',
    type: 'Samples',
    attributes: { timestamp: '2025-05-04T12:34:56.789Z', units: 'PERCENT' },
  }

  test('decodeAssetRecord reads what connectors write (model codec); a tombstone is undefined; bad JSON is OFA_SQL_VALUE', () => {
    const value = Buffer.from(encodeAssetEvent(AssetEvents.observation(sample)))
    const a = decodeAssetRecord({ key: Buffer.from('CNC-1'), value })
    assert.equal(a?.assetUuid, 'CNC-1')
    assert.equal(a?.event.kind, 'observation')
    assert.deepEqual(a?.observation, sample)
    const avail = decodeAssetRecord({
      key: Buffer.from('CNC-1'),
      value: Buffer.from(encodeAssetEvent(AssetEvents.availability({ available: true, ttlMs: 15000, at: 0 }))),
    })
    assert.equal(avail?.event.kind, 'availability')
    assert.equal(decodeAssetRecord({ key: Buffer.from('CNC-1'), value: null }), undefined)
    assert.equal(decodeAssetRecord({ key: null, value }), undefined)
    assert.throws(
      () => decodeAssetRecord({ key: Buffer.from('CNC-1'), value: Buffer.from('{oops') }),
      (err: unknown) => isOpenFactoryError(err, 'OFA_SQL_VALUE') && /not an asset event/.test(err.message),
    )
  })

  test('observationRecord writes the wire format through the codec: key the uuid, numbers stay numbers, ISO time', () => {
    const r = observationRecord('CNC-1', {
      id: 'load_avg',
      value: 42.25,
      tag: 'Load',
      type: 'Samples',
      timestamp: Date.parse('2025-05-04T12:34:56.789Z'),
      attributes: { units: 'PERCENT' },
    })
    assert.equal(r.key, 'CNC-1')
    assert.equal(
      r.value,
      '{"ID":"load_avg","VALUE":42.25,"TAG":"Load","TYPE":"Samples","attributes":{"timestamp":"2025-05-04T12:34:56.789Z","units":"PERCENT"}}',
    )
    const back = decodeAssetEvent(r.value as string)
    assert.equal(back.kind, 'observation')
    // An ISO time is normalised; an attribute named timestamp does not replace it.
    const iso = observationRecord('CNC-1', {
      id: 'state',
      value: 'OVERLOAD',
      tag: 'SpindleOverload',
      type: 'Events',
      timestamp: '2025-05-04T12:34:56Z',
      attributes: { timestamp: 'no' } as never,
    })
    assert.equal(decodeAssetEvent(iso.value as string).observation.attributes.timestamp, '2025-05-04T12:34:56.000Z')
  })

  test('observationRecord refuses a draft that is not one (OFA_PROCESSOR_INVALID) and a value or time it cannot write (OFA_SQL_VALUE)', () => {
    const base = { id: 'x', value: 1, tag: 'Load', type: 'Samples', timestamp: 0 } as const
    const code = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return (err as OpenFactoryError).code
      }
      return 'none'
    }
    assert.equal(
      code(() => observationRecord('CNC-1', { ...base, type: 'OpenFactory' as never })),
      'OFA_PROCESSOR_INVALID',
    )
    assert.equal(
      code(() => observationRecord('', base)),
      'OFA_PROCESSOR_INVALID',
    )
    assert.equal(
      code(() => observationRecord('CNC-1', { ...base, id: '' })),
      'OFA_PROCESSOR_INVALID',
    )
    assert.equal(
      code(() => observationRecord('CNC-1', { ...base, value: true as never })),
      'OFA_PROCESSOR_INVALID',
    )
    assert.equal(
      code(() => observationRecord('CNC-1', { ...base, value: Number.NaN })),
      'OFA_SQL_VALUE',
    )
    assert.equal(
      code(() => observationRecord('CNC-1', { ...base, timestamp: 'yesterday' })),
      'OFA_SQL_VALUE',
    )
  })
})

/** Counts the samples of `load` above 50 per asset; writes `high_count` of the asset for each such sample. */
function highCounter(id: string, topic: string): ProcessorDefinition {
  return {
    id,
    inputs: [topic],
    outputs: [topic],
    stores: ['high'],
    process(record, ctx) {
      const a = ctx.asset(record)
      if (a?.event.kind !== 'observation' || a.observation.id !== 'load') return
      if (typeof a.observation.value !== 'number' || a.observation.value <= 50) return
      const high = ctx.store<number>('high')
      const n = (high.get(a.assetUuid) ?? 0) + 1
      high.put(a.assetUuid, n)
      // Reading the same topic it writes: the record written here is never handed back to process.
      ctx.emitObservation(a.assetUuid, { id: 'high_count', value: n, tag: 'Count', type: 'Events' })
    },
  }
}

async function appendLoads(log: EventLog, topic: string, from: number, n: number, t0: number): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => {
    const k = from + i
    const observation: Observation = {
      id: 'load',
      value: k % 2 === 0 ? 80 : 20,
      tag: 'Load',
      type: 'Samples',
      attributes: { timestamp: new Date(t0 + k * 1000).toISOString() },
    }
    return {
      key: `CNC-${k % 3}`,
      value: encodeAssetEvent(AssetEvents.observation(observation)),
      timestamp: t0 + 1_000_000 + k,
    }
  })
  await log.append(topic, records)
}

for (const backbone of BACKBONES) {
  describe(`a definition over asset records on the ${backbone.name} log`, () => {
    test('derived observations: times from the input, own outputs not read back, exactly once across a restart', async (t) => {
      const log = await backbone.open(t)
      const topic = uniqueTopic('assets')
      await log.createTopic({ name: topic, partitions: 3 })
      const t0 = Date.now() - 60_000
      const spec = defineProcessor(highCounter(uniqueTopic('high'), topic))
      await appendLoads(log, topic, 0, 30, t0)
      // Not an asset event: skipped (OFA_SQL_VALUE), counted, the others go on.
      await log.append(topic, [{ key: 'CNC-0', value: 'not json' }])
      const one = runProcessor({ eventLog: log, spec })
      await one.ready
      const outputs = async () =>
        (await readTopic(log, topic)).filter((r) => r.headers['ofa.task']?.toString().startsWith(`${spec.id}/`))
      await until(async () => (await outputs()).length === 15, '15 derived observations')
      await one.stop()
      await appendLoads(log, topic, 30, 30, t0)
      const two = runProcessor({ eventLog: log, spec })
      t.after(() => two.stop())
      await until(async () => (await outputs()).length >= 30, '30 derived observations')
      await new Promise((r) => setTimeout(r, 200))
      const derived = await outputs()
      assert.equal(derived.length, 30, 'each once; none read back as an input')
      const skipped = Object.values(two.stats().tasks).reduce((s, x) => s + x.skipped, 0)
      const skippedBefore = Object.values(one.stats().tasks).reduce((s, x) => s + x.skipped, 0)
      assert.equal(skipped + skippedBefore, 1, 'the record that is not JSON was skipped once')
      const byAsset = new Map<string, number[]>()
      for (const r of derived) {
        const e = decodeAssetEvent(r.value as Buffer)
        const uuid = r.key?.toString() ?? ''
        byAsset.set(uuid, [...(byAsset.get(uuid) ?? []), e.observation.value as number])
        // Source time: the load sample's; record time: the load record's.
        const [input, offset] = (r.headers['ofa.src']?.toString() ?? '').split(':').map(Number)
        assert.equal(input, 0)
        const source = (await log.read(topic, r.partition, offset as number, { maxRecords: 1 }))[0]
        assert.ok(source)
        const sample = decodeAssetEvent(source.value as Buffer).observation
        assert.equal(e.observation.attributes.timestamp, sample.attributes.timestamp)
        assert.equal(r.timestamp, source.timestamp)
        assert.equal(r.key?.toString(), source.key?.toString())
      }
      // The count per asset goes on after the restart (the store was restored): 1..10 for each.
      for (const [uuid, counts] of byAsset) {
        assert.deepEqual(
          counts,
          counts.map((_, i) => i + 1),
          uuid,
        )
      }
      assert.equal(byAsset.size, 3)
    })
  })
}

test('onStreamTime gets the same helpers; an observation emitted there takes the stream time', async (t) => {
  const log = await (BACKBONES[0] as (typeof BACKBONES)[number]).open(t)
  const topic = uniqueTopic('assets')
  await log.createTopic({ name: topic, partitions: 1 })
  const t0 = Date.now() - 60_000
  const spec = defineProcessor({
    id: uniqueTopic('ticks'),
    inputs: [topic],
    outputs: [topic],
    process() {},
    onStreamTime(streamTime, ctx) {
      ctx.emitObservation('CLOCK', { id: 'tick', value: streamTime, tag: 'Count', type: 'Events' })
    },
  })
  await appendLoads(log, topic, 0, 2, t0)
  const h = runProcessor({ eventLog: log, spec })
  t.after(() => h.stop())
  let ticks: Observation[] = []
  await until(async () => {
    ticks = (await readTopic(log, topic))
      .filter((r) => r.key?.toString() === 'CLOCK')
      .map((r) => decodeAssetEvent(r.value as Buffer).observation)
    return ticks.length === 2
  }, 'two ticks')
  assert.deepEqual(
    ticks.map((o) => o.attributes.timestamp),
    [new Date(t0 + 1_000_000).toISOString(), new Date(t0 + 1_000_001).toISOString()],
  )
})
