import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  type ConsumerOptions,
  type EventLog,
  type GroupConsumer,
  openEmbeddedLog,
  partitionFor,
} from '@openfactory/log'
import {
  type Asset,
  AssetEvents,
  type CommandResult,
  classifyObservation,
  encodeAssetEvent,
  parseSimulatorConfig,
  silentLogger,
  TOPICS,
} from '@openfactory/model'
import type { Connector, ConnectorContext } from '../src/connector.ts'
import { createShdrAdapterServer } from '../src/shdr/adapter-server.ts'
import { createShdrConnector } from '../src/shdr/shdr-connector.ts'
import { createSimulatorConnector } from '../src/simulator/simulator-connector.ts'
import { createSupervisor } from '../src/supervisor.ts'
import { createTestLog, eventually, observationsOf, readAll } from './helpers.ts'

const SIM = parseSimulatorConfig({
  type: 'simulator',
  interval_ms: 20,
  items: {
    speed: {
      tag: 'RotaryVelocity',
      category: 'Samples',
      units: 'REVOLUTION/MINUTE',
      signal: 'sine',
      offset: 100,
      amplitude: 10,
      period_s: 5,
    },
    execution: { tag: 'Execution', category: 'Events', value: 'READY' },
  },
  methods: {
    SetSpeed: {
      description: 'set speed',
      arguments: [{ name: 'rpm', type: 'number', required: true }],
      set: { speed: '$rpm' },
    },
  },
})

function supervisorFor(log: EventLog, extra: Partial<Parameters<typeof createSupervisor>[0]> = {}) {
  return createSupervisor({
    eventLog: log,
    logger: silentLogger,
    heartbeatMs: 50,
    ttlMs: 200,
    restartBackoff: { initialMs: 10, maxMs: 50 },
    ...extra,
  })
}

async function sendCommand(log: EventLog, uuid: string, method: string, args: Record<string, unknown>, at?: number) {
  const cmd = AssetEvents.command({ method, senderUuid: 'test', arguments: args, ...(at === undefined ? {} : { at }) })
  await log.append(TOPICS.assets, [{ key: uuid, value: encodeAssetEvent(cmd) }])
  return cmd.envelope.header.correlation_id
}

/** Every result of one command, in log order, once the final one (not `accepted`) is there. */
async function resultsFor(log: EventLog, uuid: string, correlationId: string) {
  return eventually(
    async () => {
      const results: CommandResult[] = []
      for (const o of await observationsOf(log, uuid)) {
        const e = classifyObservation(o)
        if (e.kind === 'result' && e.result.correlation_id === correlationId) results.push(e.result)
      }
      return results.some((r) => r.status !== 'accepted') ? results : undefined
    },
    10_000,
    `result of ${correlationId}`,
  )
}

/** The final result of one command. */
async function resultFor(log: EventLog, uuid: string, correlationId: string) {
  return (await resultsFor(log, uuid, correlationId)).at(-1) as CommandResult
}

test('a supervised simulator declares its asset and streams observations into the log', async (t) => {
  const { log } = await createTestLog(t)
  const sup = supervisorFor(log)
  sup.add(createSimulatorConnector({ uuid: 'SIM-A', config: SIM }))
  await sup.start()
  await eventually(async () =>
    (await observationsOf(log, 'SIM-A')).filter((o) => o.id === 'speed').length >= 5 ? true : undefined,
  )
  await sup.stop()

  const registry = await readAll(log, TOPICS.registry)
  assert.equal(registry.length, 1)
  assert.equal(registry[0]?.key?.toString(), 'SIM-A')
  assert.deepEqual(
    JSON.parse(registry[0]?.value?.toString() ?? '').dataItems.map((d: { id: string }) => d.id),
    ['speed', 'execution'],
  )

  const obs = await observationsOf(log, 'SIM-A')
  const ids = obs.map((o) => o.id)
  for (const id of ['AssetType', 'references_above', 'references_below', 'SetSpeed', 'avail', 'speed', 'execution']) {
    assert.ok(ids.includes(id), `${id} published`)
  }
  assert.equal(obs.find((o) => o.id === 'speed')?.value, 'UNAVAILABLE', 'every item starts UNAVAILABLE')
  const numeric = obs.filter((o) => o.id === 'speed' && typeof o.value === 'number')
  assert.ok(numeric.length >= 4)
  assert.equal(numeric[0]?.attributes.units, 'REVOLUTION/MINUTE')
  assert.ok(numeric[0]?.attributes.ingestion_timestamp)
  const avail = obs.filter((o) => o.id === 'avail')
  assert.equal(avail[0]?.value, 'AVAILABLE')
  assert.equal(avail[0]?.attributes.ttl_ms, 200)
  assert.ok(avail.filter((o) => o.value === 'AVAILABLE').length >= 2, 'heartbeats repeat AVAILABLE')
  assert.equal(avail.at(-1)?.value, 'UNAVAILABLE', 'a stopped connector leaves its asset UNAVAILABLE')
  assert.equal(avail.at(-1)?.attributes.reason, 'connector stopped')
})

test('an asset placed in the UNS gets its record on the UNS map topic (the reference SQL joins with it)', async (t) => {
  const { log } = await createTestLog(t)
  const sup = supervisorFor(log)
  const uns = { levels: { inc: 'Acme', area: 'Milling', asset: 'sim-u' }, unsId: 'Acme/Milling/sim-u' }
  sup.add(createSimulatorConnector({ uuid: 'SIM-U', config: SIM, uns }))
  sup.add(createSimulatorConnector({ uuid: 'SIM-V', config: SIM }))
  await sup.start()
  t.after(() => sup.stop())
  const map = await eventually(async () => {
    await sup.flush()
    const records = await readAll(log, TOPICS.unsMap)
    return records.length > 0 ? records : undefined
  })
  await sup.stop()
  assert.deepEqual(
    (await readAll(log, TOPICS.unsMap)).map((r) => r.key?.toString()),
    ['SIM-U'],
    'one record, for the placed asset only',
  )
  const value = JSON.parse(map[0]?.value?.toString() ?? '')
  assert.equal(value.ASSET_UUID, 'SIM-U')
  assert.equal(value.UNS_ID, 'Acme/Milling/sim-u')
  assert.deepEqual(value.UNS_LEVELS, uns.levels)
  assert.equal(typeof value.UPDATED_AT, 'number')
})

test('commands run the method and are answered on the log', async (t) => {
  const { log } = await createTestLog(t)
  const sup = supervisorFor(log)
  sup.add(createSimulatorConnector({ uuid: 'SIM-B', config: SIM }))
  await sup.start()
  t.after(() => sup.stop())
  await eventually(() => (sup.status()[0]?.state === 'running' ? true : undefined))
  // the command reader starts from the end of the log: give it a moment to join before sending
  await sup.flush()
  await new Promise((r) => setTimeout(r, 100))

  const answers = await resultsFor(log, 'SIM-B', await sendCommand(log, 'SIM-B', 'SetSpeed', { rpm: 500 }))
  assert.deepEqual(
    answers.map((r) => r.status),
    ['accepted', 'completed'],
    'accepted when handed to the connector, then the final status',
  )
  const ok = answers.at(-1) as CommandResult
  assert.deepEqual(ok.status, 'completed')
  assert.deepEqual(ok.result, { speed: 500 })
  const speeds = await eventually(async () => {
    const v = (await observationsOf(log, 'SIM-B')).filter((o) => o.id === 'speed' && typeof o.value === 'number').at(-1)
      ?.value as number
    return v > 400 ? v : undefined
  })
  assert.ok(speeds >= 490 && speeds <= 510)

  const refused = await resultsFor(log, 'SIM-B', await sendCommand(log, 'SIM-B', 'Explode', {}))
  assert.equal(refused.length, 1, 'a command refused before the connector gets only its final status')
  const unknown = refused[0] as CommandResult
  assert.equal(unknown.status, 'rejected')
  assert.equal(unknown.error?.code, 'OFA_COMMAND_REJECTED')

  const missing = await resultFor(log, 'SIM-B', await sendCommand(log, 'SIM-B', 'SetSpeed', {}))
  assert.equal(missing.status, 'rejected')

  const wrongType = await resultFor(log, 'SIM-B', await sendCommand(log, 'SIM-B', 'SetSpeed', { rpm: 'fast' }))
  assert.equal(wrongType.status, 'rejected')

  const stale = await resultFor(
    log,
    'SIM-B',
    await sendCommand(log, 'SIM-B', 'SetSpeed', { rpm: 1 }, Date.now() - 3_600_000),
  )
  assert.equal(stale.status, 'timeout', 'a command that waited an hour is not executed')
  await sup.stop()
})

test('a failing connector is restarted with backoff and its assets go UNAVAILABLE meanwhile', async (t) => {
  const { log } = await createTestLog(t)
  let starts = 0
  let ctxOf: ConnectorContext | null = null
  const flaky: Connector = {
    name: 'FLAKY',
    async start(ctx) {
      starts++
      ctxOf = ctx
      ctx.declareAssets([
        { uuid: 'FLAKY', type: 'Device', referencesAbove: [], referencesBelow: [], dataItems: [], methods: [] },
      ])
      if (starts <= 2) throw new Error(`start ${starts} failed`)
      ctx.setAvailable('FLAKY', true)
    },
    async stop() {},
  }
  const sup = supervisorFor(log)
  sup.add(flaky)
  await sup.start()
  await eventually(() => (sup.status()[0]?.state === 'running' ? true : undefined))
  assert.equal(starts, 3)
  assert.equal(sup.status()[0]?.restarts, 2)
  ;(ctxOf as ConnectorContext | null)?.fail(new Error('device went away'))
  await eventually(() => (starts === 4 && sup.status()[0]?.state === 'running' ? true : undefined))
  await sup.stop()
  const avail = (await observationsOf(log, 'FLAKY')).filter((o) => o.id === 'avail')
  assert.ok(
    avail.some((o) => o.value === 'UNAVAILABLE' && o.attributes.reason === 'connector failed: device went away'),
  )
  assert.ok(avail.some((o) => o.value === 'AVAILABLE'))
})

test('observations published while the log refuses writes are kept and written in order later', async (t) => {
  const { log } = await createTestLog(t)
  let refuse = true
  const flakyLog: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (topic: string, records: unknown[]) =>
          refuse ? Promise.reject(new Error('disk full')) : target.append(topic, records as never)
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  let ctxOf: ConnectorContext | null = null
  const sup = supervisorFor(flakyLog)
  sup.add({
    name: 'PUMP',
    async start(ctx) {
      ctxOf = ctx
    },
    async stop() {},
  })
  await sup.start()
  await eventually(() => (ctxOf ? true : undefined))
  const ctx = ctxOf as unknown as ConnectorContext
  for (let i = 0; i < 500; i++) {
    ctx.publish('PUMP', [
      { id: 'n', value: i, tag: 'Count', type: 'Samples', attributes: { timestamp: new Date().toISOString() } },
    ])
  }
  await eventually(() => (sup.writerStats().failedAppends >= 2 ? true : undefined))
  assert.equal(sup.writerStats().buffered, 500)
  refuse = false
  await sup.flush()
  await sup.stop()
  const n = (await observationsOf(log, 'PUMP')).filter((o) => o.id === 'n').map((o) => o.value)
  assert.deepEqual(
    n,
    Array.from({ length: 500 }, (_, i) => i),
  )
  assert.equal(sup.writerStats().dropped, 0)
})

test('a record the log refuses (a 4 MB asset document over a 1 MiB limit) blocks nothing behind it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-conn-big-'))
  const log = await openEmbeddedLog({ dir, maxRecordBytes: 1 << 20 })
  t.after(async () => {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: TOPICS.assets, partitions: 2 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.documents, partitions: 1, cleanupPolicy: 'compact' })
  const adapter = await createShdrAdapterServer({ port: 0, heartbeatMs: 1000 })
  t.after(() => adapter.close())
  const errors: { message: string; fields?: Record<string, unknown> }[] = []
  const sup = supervisorFor(log, {
    logger: {
      ...silentLogger,
      error: (message, fields) => void errors.push({ message, ...(fields ? { fields } : {}) }),
    },
  })
  sup.add(
    createShdrConnector({
      uuid: 'BIG-1',
      host: '127.0.0.1',
      port: adapter.port,
      data: { n: { tag: 'Count', type: 'Events' } },
      timings: { connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 100 } },
    }),
  )
  await sup.start()
  await adapter.waitForClients(1, 5000)
  for (let i = 0; i < 5; i++) adapter.sendValues({ n: i })
  // The SHDR stream takes a document (a multi-line @ASSET@) of up to 4 MiB: about 4 MB here, in 1 KiB lines.
  adapter.send(`${new Date().toISOString()}|@ASSET@|T1|CuttingTool|--multiline--BIG`)
  const line = `<Note>${'x'.repeat(1017)}</Note>`
  for (let i = 0; i < 4000; i++) adapter.send(line)
  adapter.send('--multiline--BIG')
  for (let i = 5; i < 10; i++) adapter.sendValues({ n: i })
  const values = async () =>
    (await observationsOf(log, 'BIG-1')).filter((o) => o.id === 'n' && o.value !== 'UNAVAILABLE').map((o) => o.value)
  await eventually(
    async () => ((await values()).length >= 10 ? true : undefined),
    10_000,
    'the values behind the document',
  )
  await sup.flush()
  assert.deepEqual(await values(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'every value, in order')
  assert.deepEqual(sup.writerStats().setAside, { OFA_LOG_RECORD_TOO_LARGE: 1 })
  assert.deepEqual(await readAll(log, TOPICS.documents), [], 'the document was set aside')
  const refused = errors.filter((e) => e.fields?.code === 'OFA_LOG_RECORD_TOO_LARGE')
  assert.equal(refused.length, 1, 'logged once')
  assert.equal(refused[0]?.fields?.topic, TOPICS.documents)
  assert.equal(refused[0]?.fields?.key, 'T1')
  assert.ok((refused[0]?.fields?.bytes as number) > 4_000_000)
  await sup.stop()
})

/** A simulator whose start takes a while before it declares its asset, as a connector that first reaches its device. */
function slowStarting(uuid: string, delayMs: number): Connector {
  const sim = createSimulatorConnector({ uuid, config: SIM })
  return {
    name: sim.name,
    start: async (ctx: ConnectorContext) => {
      await new Promise((r) => setTimeout(r, delayMs))
      await sim.start(ctx)
    },
    stop: () => sim.stop(),
    execute: (request) => sim.execute(request),
  }
}

test('commands already on the log when the supervisor starts are run once the connector declares its asset', async (t) => {
  const { log } = await createTestLog(t)
  const group = 'ofa-connectors-restart'
  // A first run joins the group and commits its position, as `ofa up` does before it is stopped.
  const first = supervisorFor(log, { group })
  first.add(createSimulatorConnector({ uuid: 'SIM-R', config: SIM }))
  await first.start()
  await eventually(() => (first.status()[0]?.state === 'running' ? true : undefined))
  const earlier = await resultFor(log, 'SIM-R', await sendCommand(log, 'SIM-R', 'SetSpeed', { rpm: 200 }))
  assert.equal(earlier.status, 'completed')
  await first.stop()

  // While nothing runs, commands arrive (`ofa log produce`, or a 202 of the API while the connectors were down).
  const before = await sendCommand(log, 'SIM-R', 'SetSpeed', { rpm: 321 })
  const unknown = await sendCommand(log, 'SIM-OTHER', 'SetSpeed', { rpm: 1 })

  const second = supervisorFor(log, { group })
  second.add(slowStarting('SIM-R', 300))
  await second.start()
  t.after(() => second.stop())
  const answers = await resultsFor(log, 'SIM-R', before)
  assert.deepEqual(
    answers.map((r) => r.status),
    ['accepted', 'completed'],
  )
  assert.deepEqual(answers.at(-1)?.result, { speed: 321 })
  // An asset no connector of this supervisor declares is another process's: passed over, not answered.
  await second.flush()
  const other = (await observationsOf(log, 'SIM-OTHER')).map((o) => classifyObservation(o))
  assert.deepEqual(
    other.filter((e) => e.kind === 'result' && e.result.correlation_id === unknown),
    [],
  )
  await second.stop()
})

test('the command reader reads only the partitions of its assets, and takes in the partition of an asset declared later', async (t) => {
  const { log } = await createTestLog(t)
  const { partitions: count } = await log.describeTopic(TOPICS.assets)
  // A connector named after one device that also serves a second asset, on another partition of ofa_assets.
  const second = Array.from({ length: 100 }, (_, i) => `PART-B-${i}`).find(
    (u) => partitionFor(u, count) !== partitionFor('PART-A', count),
  ) as string
  const asset = (uuid: string): Asset => ({
    uuid,
    type: 'Device',
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [],
    methods: [{ name: 'Ping', description: 'answers with its asset', arguments: [] }],
  })
  let ctx: ConnectorContext | undefined
  const connector: Connector = {
    name: 'PART-A',
    start: async (c) => {
      ctx = c
      c.declareAssets([asset('PART-A')])
      c.setAvailable('PART-A', true)
    },
    stop: async () => {},
    execute: async (request) => ({ asset: request.assetUuid }),
  }
  const given: (readonly number[] | undefined)[] = []
  const consumers: GroupConsumer[] = []
  const watched = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'consumer') {
        return (opts: ConsumerOptions) => {
          given.push(opts.partitions?.[TOPICS.assets])
          const consumer = target.consumer(opts)
          consumers.push(consumer)
          return consumer
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const sup = supervisorFor(watched)
  sup.add(connector)
  await sup.start()
  t.after(() => sup.stop())
  assert.deepEqual(given, [[partitionFor('PART-A', count)]], 'one partition: the one its device key maps to')
  assert.equal((await resultFor(log, 'PART-A', await sendCommand(log, 'PART-A', 'Ping', {}))).status, 'completed')

  ctx?.declareAssets([asset(second)])
  await eventually(() => (given.length === 2 ? true : undefined), 10_000, 'the command reader restarted')
  assert.deepEqual(
    given[1],
    [partitionFor('PART-A', count), partitionFor(second, count)].sort((a, b) => a - b),
  )
  await eventually(() => (consumers[1]?.assignment().length === 2 ? true : undefined), 10_000, 'both partitions read')
  const answer = await resultFor(log, second, await sendCommand(log, second, 'Ping', {}))
  assert.equal(answer.status, 'completed')
  assert.deepEqual(answer.result, { asset: second })
  await sup.stop()
})

/** A device asset with one method, `Ping`, answered with the asset's UUID. */
function pingAsset(uuid: string): Asset {
  return {
    uuid,
    type: 'Device',
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [],
    methods: [{ name: 'Ping', description: 'answers with its asset', arguments: [] }],
  }
}

/**
 * A connector named `name` declaring that asset at start; `ctx` lets the test declare more later, `pings` counts
 * the executions per asset.
 */
function pingConnector(name: string) {
  const state = { ctx: undefined as ConnectorContext | undefined, pings: new Map<string, number>() }
  const connector: Connector = {
    name,
    start: async (c) => {
      state.ctx = c
      c.declareAssets([pingAsset(name)])
      c.setAvailable(name, true)
    },
    stop: async () => {},
    execute: async (request) => {
      state.pings.set(request.assetUuid, (state.pings.get(request.assetUuid) ?? 0) + 1)
      return { asset: request.assetUuid }
    },
  }
  return { connector, state }
}

/** An asset UUID on another partition of ofa_assets than `uuid`. */
function onAnotherPartition(uuid: string, count: number): string {
  return Array.from({ length: 100 }, (_, i) => `${uuid}-B-${i}`).find(
    (u) => partitionFor(u, count) !== partitionFor(uuid, count),
  ) as string
}

test('a command appended right after an asset is declared on a new partition, while the reader restarts, runs once', async (t) => {
  const { log } = await createTestLog(t)
  const { partitions: count } = await log.describeTopic(TOPICS.assets)
  const second = onAnotherPartition('GAP-A', count)
  const { connector, state } = pingConnector('GAP-A')
  // The restarted reader starts reading only when the test says: the window between the declaration and the
  // reader's first read, which a busy process or a slow broker opens at random, held open. And the end of a
  // partition is read late, as a broker may answer a ListOffsets after a Produce sent later (the first reader
  // takes as long to leave).
  const options: ConsumerOptions[] = []
  let release = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  let slowDescribe = false
  let answerDescribe = () => {}
  const describeGate = new Promise<void>((resolve) => {
    answerDescribe = resolve
  })
  t.after(() => {
    answerDescribe()
    release()
  }) // before the supervisor stops, should the test fail while they are closed
  const watched = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'describeTopic') {
        return async (name: string) => {
          if (slowDescribe) await describeGate
          return target.describeTopic(name)
        }
      }
      if (prop === 'consumer') {
        return (opts: ConsumerOptions): GroupConsumer => {
          options.push(opts)
          const consumer = target.consumer(opts)
          const first = options.length === 1
          return Object.assign(Object.create(consumer) as GroupConsumer, {
            async *[Symbol.asyncIterator]() {
              if (!first) await gate
              yield* consumer
            },
            assignment: () => consumer.assignment(),
            commit: (o?: Parameters<GroupConsumer['commit']>[0]) => consumer.commit(o),
            close: async () => {
              if (first && slowDescribe) await describeGate
              return consumer.close()
            },
          })
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const sup = supervisorFor(watched)
  sup.add(connector)
  await sup.start()
  t.after(() => sup.stop())
  assert.equal((await resultFor(log, 'GAP-A', await sendCommand(log, 'GAP-A', 'Ping', {}))).status, 'completed')

  slowDescribe = true
  state.ctx?.declareAssets([pingAsset(second)])
  await new Promise((r) => setTimeout(r, 100))
  const onLog = async () => (await readAll(log, TOPICS.registry)).some((r) => r.key?.toString() === second)
  assert.equal(await onLog(), false, 'the declaration waits until the end of its partition is read')
  answerDescribe()
  await eventually(() => (options.length === 2 ? true : undefined), 10_000, 'the command reader restarted')
  await sup.flush() // the declaration is on the log
  assert.equal(await onLog(), true)
  const id = await sendCommand(log, second, 'Ping', {})
  release()
  const answers = await resultsFor(log, second, id)
  assert.deepEqual(
    answers.map((r) => r.status),
    ['accepted', 'completed'],
  )
  assert.deepEqual(answers.at(-1)?.result, { asset: second })
  // Where the new partition started: at or before the asset's first record (its end when the asset was declared).
  const partition = partitionFor(second, count)
  const startAt = options[1]?.startAt?.[TOPICS.assets] as Record<number, number>
  const first = (await readAll(log, TOPICS.assets)).find((r) => r.key?.toString() === second)
  assert.ok(first && startAt[partition] !== undefined && startAt[partition] <= first.offset, JSON.stringify(startAt))
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(state.pings.get(second), 1, 'executed once')
  assert.equal((await resultsFor(log, second, id)).length, 2, 'answered once')
  await sup.stop()
})

test("a new partition the group committed an offset on starts from that offset, not from the reader's capture", async (t) => {
  const { log } = await createTestLog(t)
  const group = 'ofa-connectors-committed'
  const { partitions: count } = await log.describeTopic(TOPICS.assets)
  const second = onAnotherPartition('COM-A', count)
  const partition = partitionFor(second, count)
  // A command for the second asset is on the log, and the group's position on its partition is just before it
  // (an earlier run that read that partition, stopped before the command was appended).
  const id = await sendCommand(log, second, 'Ping', {})
  const offset = (await readAll(log, TOPICS.assets)).find((r) => r.key?.toString() === second)?.offset as number
  const committer = log.consumer({ group, topics: [TOPICS.assets], partitions: { [TOPICS.assets]: [partition] } })
  await committer.commit([{ topic: TOPICS.assets, partition, offset }])
  await committer.close()
  const { connector, state } = pingConnector('COM-A')
  const options: ConsumerOptions[] = []
  const watched = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'consumer') {
        return (opts: ConsumerOptions) => {
          options.push(opts)
          return target.consumer(opts)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const sup = supervisorFor(watched, { group })
  sup.add(connector)
  await sup.start()
  t.after(() => sup.stop())
  await eventually(() => (sup.status()[0]?.state === 'running' ? true : undefined))
  state.ctx?.declareAssets([pingAsset(second)])
  const answer = await resultFor(log, second, id)
  assert.equal(answer.status, 'completed')
  // The capture was past the command: only the committed offset could have brought it.
  const startAt = options.at(-1)?.startAt?.[TOPICS.assets] as Record<number, number>
  assert.ok((startAt[partition] as number) > offset, JSON.stringify(startAt))
  assert.equal(state.pings.get(second), 1)
  await sup.stop()
})

test('a connector whose start hangs holds commands up once, not once per command', async (t) => {
  const { log } = await createTestLog(t)
  const group = 'ofa-connectors-hang'
  const first = supervisorFor(log, { group })
  first.add(createSimulatorConnector({ uuid: 'SIM-H', config: SIM }))
  await first.start()
  await eventually(() => (first.status()[0]?.state === 'running' ? true : undefined))
  assert.equal(
    (await resultFor(log, 'SIM-H', await sendCommand(log, 'SIM-H', 'SetSpeed', { rpm: 1 }))).status,
    'completed',
  )
  await first.stop()

  // Commands for assets nobody here declares, on the simulator's partition, then one for the simulator.
  const { partitions: count } = await log.describeTopic(TOPICS.assets)
  const nobody = Array.from({ length: 400 }, (_, i) => `NOBODY-${i}`)
    .filter((u) => partitionFor(u, count) === partitionFor('SIM-H', count))
    .slice(0, 20)
  assert.equal(nobody.length, 20)
  for (const uuid of nobody) await sendCommand(log, uuid, 'SetSpeed', { rpm: 1 })
  const id = await sendCommand(log, 'SIM-H', 'SetSpeed', { rpm: 2 })
  const hanging: Connector = { name: 'HANGS', start: () => new Promise(() => {}), stop: async () => {} }
  const second = supervisorFor(log, { group, commandExpiryMs: 1500 })
  second.add(createSimulatorConnector({ uuid: 'SIM-H', config: SIM }))
  second.add(hanging)
  await second.start()
  t.after(() => second.stop())
  // Waiting 1.5 s per unknown command would take 30 s; one wait for the hanging start, then each is passed over.
  const answer = await resultFor(log, 'SIM-H', id)
  assert.ok(['completed', 'timeout'].includes(answer.status), answer.status)
  await second.stop()
})

test('the command reader commits at once after a command, and records passed over at most once a second', async (t) => {
  const { log } = await createTestLog(t)
  let commits = 0
  const watched = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'consumer') {
        return (opts: ConsumerOptions) => {
          const consumer = target.consumer(opts)
          const commit = consumer.commit.bind(consumer)
          consumer.commit = (offsets) => {
            commits++
            return commit(offsets)
          }
          return consumer
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const sup = supervisorFor(watched)
  sup.add(createSimulatorConnector({ uuid: 'SIM-C', config: SIM })) // a batch every 20 ms, heartbeats every 50 ms
  await sup.start()
  t.after(() => sup.stop())
  await eventually(() => (sup.status()[0]?.state === 'running' ? true : undefined))
  const from = commits
  await new Promise((r) => setTimeout(r, 1500))
  assert.ok(commits - from <= 2, `${commits - from} commits in 1.5 s of observations only (one per batch before)`)
  const before = commits
  const answer = await resultFor(log, 'SIM-C', await sendCommand(log, 'SIM-C', 'SetSpeed', { rpm: 7 }))
  assert.equal(answer.status, 'completed')
  assert.ok(commits > before, 'committed after the command')
  await sup.stop()
})

test('a supervisor without connectors reads no commands and fails at nothing; a connector added later gets its commands', {
  timeout: 30_000,
}, async (t) => {
  const { log } = await createTestLog(t)
  const errors: string[] = []
  const logger = { ...silentLogger, error: (msg: string) => errors.push(msg) }
  // Waiting for a reader that has nothing to read would hold start() up for this long.
  const sup = supervisorFor(log, { logger, commandJoinTimeoutMs: 60_000 })
  await sup.start()
  t.after(() => sup.stop())
  await new Promise((r) => setTimeout(r, 300))
  assert.deepEqual(errors, [], 'no command reader failures')
  sup.add(createSimulatorConnector({ uuid: 'SIM-LATE', config: SIM }))
  await eventually(() => (sup.status()[0]?.state === 'running' ? true : undefined))
  // The reader takes the new connector's partition from its end when the connector was added: a command sent
  // once it runs is read, even if the reader has not started reading that partition yet.
  const answer = await resultFor(log, 'SIM-LATE', await sendCommand(log, 'SIM-LATE', 'SetSpeed', { rpm: 5 }))
  assert.equal(answer.status, 'completed')
  assert.deepEqual(answer.result, { speed: 5 })
  assert.deepEqual(errors, [])
  await sup.stop()
})
