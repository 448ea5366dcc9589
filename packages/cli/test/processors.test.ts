// TypeScript processors under ofa up (factory.yaml `processors:`, packages/cli/src/runtime/processors.ts): the demo
// factory's spindle overload shows up as a data item of each machine (REST and SQL); in a factory folder outside the
// repository, the same module runs with nothing installed beside it (and a module importing @openfactory/sql at run
// time runs too), its outputs are exactly once across a kill -9 and a clean restart, and modules that cannot be
// loaded or are not definitions are reported with their coded error while the factory runs.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type LogRecord, openEmbeddedLog, partitionFor } from '@openfactory/log'
import { openKafkaLog } from '@openfactory/log-kafka'
import { AssetEvents, decodeAssetEvent, encodeAssetEvent, silentLogger } from '@openfactory/model'
import { defineProcessor, type KeyValueStore, type ProcessorContext, type ProcessorDefinition } from '@openfactory/sql'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { loadProcessor } from '../src/runtime/processors.ts'
import { demoCopy, eventually, getJson, groupAlive, startOfa, tempDir } from './helpers.ts'

const DEMO_PROCESSOR = fileURLToPath(
  new URL('../../../examples/demo-factory/processors/spindle-overload.ts', import.meta.url),
)

interface ItemState {
  readonly id: string
  readonly value: unknown
}

async function itemOf(api: string, uuid: string, id: string): Promise<ItemState | undefined> {
  const asset = (await getJson(`${api}/assets/${uuid}`)) as { state: ItemState[] }
  return asset.state.find((s) => s.id === id)
}

test('the demo factory: spindle_overload of each machine, in the REST state and the SQL tables', {
  timeout: 60_000,
}, async (t) => {
  const dir = await demoCopy(t)
  const rt = await startLocalRuntime({ paths: [dir], dataDir: join(dir, '..', 'data'), port: 0, logger: silentLogger })
  try {
    assert.deepEqual(
      rt.processors.running.map((p) => p.id),
      ['spindle-overload'],
    )
    assert.deepEqual(rt.processors.failed, [])
    const api = `${rt.url}/api`
    for (const uuid of ['DEMO-CNC-SIM-001', 'OFA-MILL-001']) {
      const item = await eventually(async () => {
        const s = await itemOf(api, uuid, 'spindle_overload')
        return s && s.value !== 'UNAVAILABLE' ? s : undefined
      }, `spindle_overload of ${uuid}`)
      assert.ok(['NORMAL', 'OVERLOAD'].includes(String(item.value)), `${uuid}: ${item.value}`)
    }
    // The simulated CNC's heavy cut passes 75 % about 10 s after it starts: 6 samples later, OVERLOAD.
    const overload = await eventually(
      async () => {
        const history = (await getJson(`${api}/assets/DEMO-CNC-SIM-001/history?id=spindle_overload&limit=100`))
          .items as (ItemState & { tag: string; type: string })[]
        return history.find((o) => o.value === 'OVERLOAD')
      },
      'an OVERLOAD of the simulated CNC',
      40_000,
    )
    assert.equal(overload.tag, 'SpindleOverload')
    assert.equal(overload.type, 'Events')
    // The mill's spindle stays between 30 and 40 % through its recorded shift.
    assert.equal((await itemOf(api, 'OFA-MILL-001', 'spindle_overload'))?.value, 'NORMAL')
    const rows = await eventually(async () => {
      const r = await rt.sql.query("SELECT tag, type FROM assets WHERE key = 'DEMO-CNC-SIM-001|spindle_overload';")
      const out: unknown[] = []
      for await (const row of r.rows) out.push(row)
      return out.length > 0 ? out : undefined
    }, 'spindle_overload in the SQL table assets')
    assert.deepEqual(rows, [['SpindleOverload', 'Events']])
  } finally {
    await rt.stop()
  }
})

/** A minimal task context over plain maps: runs a spec the way one task does, to know what it must have written. */
function replayTask(spec: ReturnType<typeof defineProcessor>, records: readonly LogRecord[]): string[] {
  const stores = new Map<string, Map<string, unknown>>()
  const out: string[] = []
  let streamTime = -1
  let current: LogRecord | undefined
  let n = 0
  const ctx: ProcessorContext = {
    partition: records[0]?.partition ?? 0,
    get streamTime() {
      return streamTime
    },
    store<V>(name: string): KeyValueStore<V> {
      const m = stores.get(name) ?? new Map<string, unknown>()
      stores.set(name, m)
      return {
        get: (k: string) => m.get(k),
        put: (k: string, v: unknown) => m.set(k, v),
      } as unknown as KeyValueStore<V>
    },
    emit(_topic, record) {
      out.push(`${current?.offset}:${n++} ${String(record.key)} ${String(record.value)}`)
    },
  }
  for (const r of records) {
    current = r
    n = 0
    spec.process({ ...r, input: 0 }, ctx)
    if (r.timestamp > streamTime) streamTime = r.timestamp
  }
  return out
}

/** Every record of a partition of ofa_assets. */
async function partitionRecords(dataDir: string): Promise<LogRecord[][]> {
  const log = await openEmbeddedLog({ dir: dataDir, readOnly: true })
  try {
    const d = await log.describeTopic('ofa_assets')
    const out: LogRecord[][] = []
    for (const s of d.partitionStates) {
      const list: LogRecord[] = []
      for (let offset = s.startOffset; offset < s.endOffset; ) {
        const batch = await log.read('ofa_assets', s.partition, offset)
        if (batch.length === 0) break
        list.push(...batch)
        offset = (batch.at(-1) as LogRecord).offset + 1
      }
      out.push(list)
    }
    return out
  } finally {
    await log.close()
  }
}

const DEVICES = `devices:
  overloaded:
    uuid: PROC-CNC-1
    connector:
      type: simulator
      interval_ms: 100
      items:
        spindle_load: {tag: Load, category: Samples, units: PERCENT, signal: sine, offset: 75, amplitude: 20, period_s: 2}
  calm:
    uuid: PROC-CNC-2
    connector:
      type: simulator
      interval_ms: 100
      items:
        spindle_load: {tag: Load, category: Samples, units: PERCENT, signal: constant, offset: 30}
`

test('ofa up in a folder outside the repository: outputs exactly once across kill -9 and a restart; broken modules reported, the factory runs', {
  timeout: 180_000,
}, async (t) => {
  const root = await tempDir(t, 'ofa-processors-')
  const dir = join(root, 'factory')
  const data = join(root, 'data')
  await mkdir(join(dir, 'processors'), { recursive: true })
  await copyFile(DEMO_PROCESSOR, join(dir, 'processors', 'spindle-overload.ts'))
  await writeFile(join(dir, 'processors', 'broken.ts'), "export default {\n  id: 'broken',\n  process( {\n}\n")
  await writeFile(join(dir, 'processors', 'not-a-definition.js'), "export default { id: 'no good', proccess() {} }\n")
  await writeFile(
    join(dir, 'processors', 'imports-our-package.ts'),
    "import { defineProcessor } from '@openfactory/sql'\nexport default defineProcessor({ id: 'imports-ours', process() {} })\n",
  )
  await writeFile(
    join(dir, 'processors', 'imports-a-missing-package.ts'),
    "import { x } from '@openfactory/no-such-package'\nexport default x\n",
  )
  await writeFile(
    join(dir, 'factory.yaml'),
    [
      'name: processors-test',
      'topics: {ofa_assets: {partitions: 3}}',
      'processors:',
      '  - processors/spindle-overload.ts',
      '  - processors/broken.ts',
      '  - processors/not-a-definition.js',
      '  - processors/imports-our-package.ts',
      '  - processors/imports-a-missing-package.ts',
      '',
    ].join('\n'),
  )
  await writeFile(join(dir, 'devices.yml'), DEVICES)
  const args = ['up', dir, '--port', '0', '--data', data]

  const overloads = async (api: string) =>
    ((await getJson(`${api}/assets/PROC-CNC-1/history?id=spindle_overload&limit=1000`)).items as ItemState[]).filter(
      (o) => o.value === 'OVERLOAD',
    ).length

  // First run: the processors run (our package imported at run time resolves outside the repository), the three
  // broken modules are reported with their codes, the factory serves.
  const first = startOfa(t, args, {})
  const api1 = `${await first.url}/api`
  const reported = await eventually(
    () =>
      /not-a-definition/.test(first.output()) && /imports-a-missing-package/.test(first.output())
        ? first.output()
        : undefined,
    'the modules not run, on stderr',
  )
  assert.match(reported, /processors +spindle-overload, imports-ours\n/)
  assert.match(reported, /not run: \S+processors\/broken\.ts:\d+: OFA_PROCESSOR_LOAD cannot load the module: /)
  const invalid = /not run: \S+processors\/not-a-definition\.js: OFA_PROCESSOR_INVALID 3 problems in .*/.exec(
    reported,
  )?.[0]
  assert.ok(invalid, reported)
  assert.match(invalid, /ProcessorDefinition\.id must be a name .*, got "no good"/)
  assert.match(invalid, /ProcessorDefinition\.proccess is not an option \(did you mean process\?\)/)
  assert.match(invalid, /ProcessorDefinition\.process is required/)
  assert.match(
    reported,
    /not run: \S+processors\/imports-a-missing-package\.ts: OFA_PROCESSOR_LOAD cannot load the module: Cannot find package '@openfactory\/no-such-package' imported from \S+imports-a-missing-package\.ts — a processor may import ofa's own packages/,
  )
  assert.doesNotMatch(reported, /not run: \S+imports-our-package/)
  await eventually(async () => ((await overloads(api1)) >= 2 ? true : undefined), 'two overloads', 30_000)
  assert.equal((await itemOf(api1, 'PROC-CNC-2', 'spindle_overload'))?.value, 'NORMAL')

  // kill -9 in the middle of the stream, then a restart: the processor resumes from its checkpoint.
  process.kill(-(first.child.pid as number), 'SIGKILL')
  await first.exited
  const second = startOfa(t, args, {})
  const api2 = `${await second.url}/api`
  const before = await overloads(api2)
  await eventually(async () => ((await overloads(api2)) >= before + 2 ? true : undefined), 'more overloads', 30_000)
  // A clean stop and one more start.
  process.kill(-(second.child.pid as number), 'SIGINT')
  assert.equal(await second.exited, 0)
  const third = startOfa(t, args, {})
  const api3 = `${await third.url}/api`
  const again = await overloads(api3)
  await eventually(
    async () => ((await overloads(api3)) > again ? true : undefined),
    'an overload after the restart',
    30_000,
  )
  process.kill(-(third.child.pid as number), 'SIGINT')
  assert.equal(await third.exited, 0)
  assert.ok(!groupAlive(third.child.pid as number))

  // What was written is exactly what one uninterrupted task writes from the same log, once: per partition, the
  // outputs are a prefix of that (the last records may be left for the next start), none twice, none missing.
  const spec = defineProcessor((await import(DEMO_PROCESSOR)).default as ProcessorDefinition)
  let total = 0
  for (const records of await partitionRecords(data)) {
    if (records.length === 0) continue
    const p = (records[0] as LogRecord).partition
    const written = records
      .filter((r) => r.headers['ofa.task']?.toString() === `spindle-overload/${p}`)
      .map((r) => `${r.headers['ofa.src']?.toString().split(':').slice(1).join(':')} ${r.key} ${r.value}`)
    const expected = replayTask(spec, records)
    assert.deepEqual(written, expected.slice(0, written.length), `partition ${p}`)
    assert.ok(expected.length - written.length <= 2, `partition ${p}: at most the last records left unprocessed`)
    total += written.length
    for (const r of records.filter((x) => x.headers['ofa.task'] !== undefined)) {
      const o = decodeAssetEvent(r.value as Buffer).observation
      assert.equal(o.id, 'spindle_overload')
    }
  }
  assert.ok(total >= 8, `${total} outputs`)
})

test('on Kafka: the processor runs every partition in the ofa up process; its outputs are there once', {
  timeout: 120_000,
}, async (t) => {
  const { bootstrap } = await kafka()
  // The broker is shared by the whole test run: a machine and a processor id of this test alone.
  const suffix = randomUUID().slice(0, 8)
  const uuid = `PROC-KAFKA-${suffix}`
  const id = `spindle-overload-${suffix}`
  const dir = join(await tempDir(t, 'ofa-processors-kafka-'), 'factory')
  await mkdir(join(dir, 'processors'), { recursive: true })
  const module = (await readFile(DEMO_PROCESSOR, 'utf8')).replace("id: 'spindle-overload'", `id: '${id}'`)
  await writeFile(join(dir, 'processors', 'spindle-overload.ts'), module)
  await writeFile(join(dir, 'factory.yaml'), 'processors: [processors/spindle-overload.ts]\n')
  await writeFile(join(dir, 'devices.yml'), DEVICES.split('  calm:')[0]!.replace('PROC-CNC-1', uuid))
  const rt = await startLocalRuntime({ paths: [dir], backbone: 'kafka', bootstrap, port: 0, logger: silentLogger })
  let stopped = false
  t.after(() => (stopped ? undefined : rt.stop()))
  assert.deepEqual(
    rt.processors.running.map((p) => p.id),
    [id],
  )
  // Every partition runs in the ofa up process.
  const partitions = (await rt.log.describeTopic('ofa_assets')).partitions
  await eventually(
    async () => (rt.processors.running[0]!.handle.partitions().length === partitions ? true : undefined),
    'a task per partition',
    30_000,
  )
  const api = `${rt.url}/api`
  await eventually(
    async () => {
      const h = (await getJson(`${api}/assets/${uuid}/history?id=spindle_overload&limit=100`)).items as ItemState[]
      return h.filter((o) => o.value === 'OVERLOAD').length >= 2 ? true : undefined
    },
    'two overloads on Kafka',
    40_000,
  )
  await rt.stop()
  stopped = true
  const reader = await openKafkaLog({ bootstrapServers: bootstrap, clientId: 'ofa-cli-test' })
  t.after(() => reader.close())
  const d = await reader.describeTopic('ofa_assets')
  const p = partitionFor(uuid, d.partitions)
  const state = d.partitionStates[p]!
  const sources: string[] = []
  for (let offset = state.startOffset; offset < state.endOffset; ) {
    const batch = await reader.read('ofa_assets', p, offset)
    if (batch.length === 0) break
    for (const r of batch)
      if (r.headers['ofa.task']?.toString() === `${id}/${p}`) sources.push(String(r.headers['ofa.src']))
    offset = (batch.at(-1) as LogRecord).offset + 1
  }
  assert.ok(sources.length >= 4, `${sources.length} outputs`)
  assert.equal(new Set(sources).size, sources.length, 'no output twice')
})

test('loadProcessor: the demo module loads; its definition is the default export', async () => {
  const spec = await loadProcessor(DEMO_PROCESSOR)
  assert.equal(spec.id, 'spindle-overload')
  assert.deepEqual(spec.inputs, ['ofa_assets'])
  assert.deepEqual(spec.stores, ['runs'])
})

test('loadProcessor: a module without default export, and one that throws when imported', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'none.mjs'), 'export const x = 1\n')
  await writeFile(join(dir, 'throws.ts'), "throw new Error('no config')\n")
  await assert.rejects(
    loadProcessor(join(dir, 'none.mjs')),
    (err: Error & { code?: string; where?: { file?: string } }) => {
      assert.equal(err.code, 'OFA_PROCESSOR_INVALID')
      assert.equal(err.where?.file, join(dir, 'none.mjs'))
      assert.match(err.message, /no default export/)
      return true
    },
  )
  await assert.rejects(loadProcessor(join(dir, 'throws.ts')), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'OFA_PROCESSOR_LOAD')
    assert.match(err.message, /cannot load the module: no config/)
    return true
  })
})

test("the guide's example module (docs/guides/stream-processing.md) loads from a folder outside the repository and runs", async (t) => {
  const guide = await readFile(new URL('../../../docs/guides/stream-processing.md', import.meta.url), 'utf8')
  const section = guide.slice(guide.indexOf('## TypeScript processors'))
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(code, 'a ts block in the section')
  const file = join(await tempDir(t), 'example.ts')
  await writeFile(file, code)
  const spec = await loadProcessor(file)
  const at = Date.parse('2025-05-04T12:00:00.000Z')
  const records = [50, 70, 60, 90].map(
    (value, i): LogRecord => ({
      topic: 'ofa_assets',
      partition: 0,
      offset: i,
      timestamp: at + i,
      key: Buffer.from('CNC-1'),
      value: Buffer.from(
        encodeAssetEvent(
          AssetEvents.observation({
            id: 'spindle_load',
            value,
            tag: 'Load',
            type: 'Samples',
            attributes: { timestamp: new Date(at + i * 1000).toISOString() },
          }),
        ),
      ),
      headers: {},
    }),
  )
  const values = replayTask(spec, records).map((line) => {
    const o = decodeAssetEvent(line.slice(line.indexOf('{'))).observation
    return `${o.id}=${o.value}@${o.attributes.timestamp}`
  })
  assert.deepEqual(values, [
    'spindle_load_max=50@2025-05-04T12:00:00.000Z',
    'spindle_load_max=70@2025-05-04T12:00:01.000Z',
    'spindle_load_max=90@2025-05-04T12:00:03.000Z',
  ])
})
