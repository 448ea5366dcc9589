// The forwarder from an edge's embedded log to a real Kafka broker: the broker stopped and started again under
// load, and the edge process killed with SIGKILL mid-forward and restarted. Every record of the edge must be in
// Kafka exactly once, in order per partition.
//
// The broker these tests stop is their own cluster, `fwd` (the other test files share `test` and `test-3`); it
// is started here and stopped, its data deleted, after the tests, whatever their outcome.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import {
  createForwarder,
  EDGE_HEADER,
  EDGE_OFFSET_HEADER,
  type EventLog,
  type ForwarderLogger,
  type LogRecord,
  openEmbeddedLog,
} from '@openfactory/log'
import { eventually, readAll, uniqueName } from '@openfactory/log/testing'
import { type ClusterState, start, stop } from '../../../scripts/kafka.ts'
import { openKafkaLog } from '../src/index.ts'

const CLUSTER = 'fwd'
const PARTITIONS = 3
const KEYS = 12
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'edge-process.ts')

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-fwd-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Kafka's records of one edge in one partition, as [source offset, key, value]. */
async function edgeRecords(kafka: EventLog, topic: string, partition: number, edgeId: string) {
  return (await readAll(kafka, topic, partition))
    .filter((r) => r.headers[EDGE_HEADER]?.toString() === edgeId)
    .map((r) => [Number(r.headers[EDGE_OFFSET_HEADER]?.toString()), r.key?.toString(), r.value?.toString()])
}

/**
 * Asserts that Kafka holds every record of the source exactly once, in source order per partition, with its
 * key and value; returns the source's records.
 */
async function assertExactlyOnce(source: EventLog, kafka: EventLog, topic: string, edgeId: string) {
  const all: LogRecord[] = []
  for (let p = 0; p < PARTITIONS; p++) {
    const src = await readAll(source, topic, p)
    all.push(...src)
    // Right after a broker restart a fetch may come back empty for a moment (the partition's leader being elected):
    // read until Kafka shows as many of this edge's records as the source has (or the time runs out), then compare.
    let got = await edgeRecords(kafka, topic, p, edgeId)
    for (let i = 0; i < 60 && got.length < src.length; i++) {
      await new Promise((r) => setTimeout(r, 500))
      got = await edgeRecords(kafka, topic, p, edgeId)
    }
    assert.deepEqual(
      got,
      src.map((r) => [r.offset, r.key?.toString(), r.value?.toString()]),
      `partition ${p}`,
    )
    assert.deepEqual(
      src.map((r) => r.offset),
      src.map((_, i) => i),
      `source partition ${p} is complete`,
    )
  }
  return all
}

/** Record n has value `n` and key `asset-<n % 12>`: per key, the values in partition order are n, n+12, n+24... */
function assertKeySequences(records: readonly LogRecord[], total: number): void {
  const perKey = new Map<string, number[]>()
  for (const r of records) {
    const key = r.key!.toString()
    perKey.set(key, [...(perKey.get(key) ?? []), Number(r.value!.toString())])
  }
  for (let k = 0; k < KEYS; k++) {
    const expected: number[] = []
    for (let n = k; n < total; n += KEYS) expected.push(n)
    assert.deepEqual(perKey.get(`asset-${k}`) ?? [], expected, `values of asset-${k}`)
  }
}

/** Per key, the record numbers in partition order only grow (a kill may have cut unacknowledged ones). */
function assertKeyOrder(records: readonly LogRecord[]): void {
  const last = new Map<string, number>()
  for (const r of records) {
    const key = r.key!.toString()
    const v = Number(r.value!.toString())
    assert.ok(v > (last.get(key) ?? -1), `${key}: ${v} after ${last.get(key)}`)
    last.set(key, v)
  }
}

async function edgeCount(kafka: EventLog, topic: string): Promise<number> {
  try {
    return (await kafka.describeTopic(topic)).partitionStates.reduce((sum, s) => sum + s.endOffset, 0)
  } catch {
    return 0
  }
}

describe('forwarder to Kafka', { timeout: 600_000 }, () => {
  let cluster: ClusterState
  before(async () => {
    cluster = await start({ name: CLUSTER, brokers: 1 })
  })
  after(() => stop(CLUSTER, true))

  it('forwards everything once after the broker was stopped under load and started again', async (t) => {
    const source = await openEmbeddedLog({ dir: tempDir(t), compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
    t.after(() => source.close())
    const kafka = await openKafkaLog({
      bootstrapServers: cluster.bootstrap,
      clientId: 'ofa-forwarder-test',
      retries: 4,
      retryDelayMs: 250,
      connectTimeoutMs: 2000,
      requestTimeoutMs: 5000,
    })
    t.after(() => kafka.close())
    const topic = uniqueName('fwd-bounce')
    await source.createTopic({ name: topic, partitions: PARTITIONS })
    const warnings: string[] = []
    const logger: ForwarderLogger = {
      info: () => {},
      warn: (m) => warnings.push(m),
      error: (m) => warnings.push(`error: ${m}`),
    }
    const edgeId = `edge-${process.pid}`
    const fwd = createForwarder({
      source,
      target: kafka,
      edgeId,
      topics: [topic],
      logger,
      retryDelayMs: { min: 100, max: 1000 },
      appendTimeoutMs: 10_000,
      maxBatchRecords: 200,
    })
    t.after(() => fwd.stop())
    await fwd.start()

    // The load: 5 keyed records every few milliseconds, value = record number.
    let n = 0
    let loading = true
    const load = (async () => {
      while (loading) {
        const records = Array.from({ length: 5 }, () => {
          const i = n++
          return { key: `asset-${i % KEYS}`, value: String(i) }
        })
        await source.append(topic, records)
        await new Promise((r) => setTimeout(r, 3))
      }
    })()
    t.after(() => {
      loading = false
      return load.catch(() => {})
    })

    await eventually(async () => (await fwd.stats()).forwarded >= 500, 60_000, 'forwarding before the stop')
    await stop(CLUSTER, false)
    const atStop = n
    // The edge keeps accepting records while the broker is down, and the forwarder notices the outage.
    await eventually(async () => !(await fwd.stats()).connected, 60_000, 'the forwarder sees the outage')
    await eventually(() => n >= atStop + 1000, 60_000, 'appends while the broker is down')
    const forwardedWhileDown = (await fwd.stats()).forwarded
    assert.ok(
      (await edgeCount(source, topic)) >= atStop + 1000,
      'the embedded log took every record while the broker was down',
    )

    await start({ name: CLUSTER, brokers: 1 })
    const atRestart = n
    await eventually(async () => (await fwd.stats()).forwarded > forwardedWhileDown, 120_000, 'forwarding resumes')
    await eventually(() => n >= atRestart + 500, 60_000, 'appends after the restart')
    loading = false
    await load
    await fwd.caughtUp()

    const stats = await fwd.stats()
    assert.equal(stats.connected, true)
    // Records of a failed append that landed anyway were found in Kafka, not appended again (nor counted).
    assert.ok(stats.forwarded <= n)
    const records = await assertExactlyOnce(source, kafka, topic, edgeId)
    assert.equal(records.length, n)
    assert.equal(await edgeCount(kafka, topic), n)
    assertKeySequences(
      records.sort((a, b) => a.partition - b.partition || a.offset - b.offset),
      n,
    )
    // One warning per outage (a broker that flaps while restarting may make two), each saying what happened.
    assert.ok(warnings.length >= 1 && warnings.length <= 3, `warnings for the outage: ${warnings.join(' | ')}`)
    for (const w of warnings) assert.match(w, /does not answer/)
  })

  it('forwards everything once across kill -9 of the edge process', async (t) => {
    const dir = tempDir(t)
    const topic = uniqueName('fwd-kill')
    const edgeId = `edge-kill-${process.pid}`
    const kafka = await openKafkaLog({ bootstrapServers: cluster.bootstrap, clientId: 'ofa-forwarder-test' })
    t.after(() => kafka.close())
    const children = new Set<ChildProcess>()
    t.after(() => {
      for (const c of children) c.kill('SIGKILL')
    })
    const run = async (): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> => {
      const child = spawn(process.execPath, [FIXTURE, dir, cluster.bootstrap, topic, edgeId], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      children.add(child)
      let out = ''
      let err = ''
      child.stdout!.on('data', (d) => {
        out += d
      })
      child.stderr!.on('data', (d) => {
        err += d
      })
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => {
          children.delete(child)
          resolve(code)
        }),
      )
      await Promise.race([
        eventually(() => out.includes('ready\n'), 120_000, 'the edge process starts'),
        exited.then((code) => assert.fail(`the edge process exited (${code}) before it was ready: ${err}`)),
      ])
      return { child, output: () => out, exited }
    }

    // Two runs killed with SIGKILL while appending and forwarding, each after Kafka got 300 more records.
    let seen = 0
    for (let i = 0; i < 2; i++) {
      const edge = await run()
      const want = seen + 300
      await eventually(async () => (await edgeCount(kafka, topic)) >= want, 120_000, 'records reach Kafka')
      edge.child.kill('SIGKILL')
      await edge.exited
      seen = await edgeCount(kafka, topic)
    }
    // A third run, stopped gracefully: it waits until Kafka holds everything.
    const last = await run()
    await eventually(async () => (await edgeCount(kafka, topic)) >= seen + 300, 120_000, 'records reach Kafka')
    last.child.kill('SIGTERM')
    assert.equal(await last.exited, 0)
    const total = Number(/done (\d+)/.exec(last.output())?.[1])

    const source = await openEmbeddedLog({ dir, readOnly: true })
    t.after(() => source.close())
    const records = await assertExactlyOnce(source, kafka, topic, edgeId)
    assert.equal(records.length, total)
    assert.equal(await edgeCount(kafka, topic), total)
    // Record numbers continue across the restarts: per key, in order.
    assertKeyOrder(records.sort((a, b) => a.partition - b.partition || a.offset - b.offset))
  })

  it('forwards everything once across kill -9 with several appends in flight', async (t) => {
    const dir = tempDir(t)
    const topic = uniqueName('fwd-pipe')
    const edgeId = `edge-pipe-${process.pid}`
    const kafka = await openKafkaLog({ bootstrapServers: cluster.bootstrap, clientId: 'ofa-forwarder-test' })
    t.after(() => kafka.close())
    const children = new Set<ChildProcess>()
    t.after(() => {
      for (const c of children) c.kill('SIGKILL')
    })
    // 8 appends of 50 records in flight over a backlog of 30 000 records (written before the first run starts).
    const run = async () => {
      const child = spawn(process.execPath, [FIXTURE, dir, cluster.bootstrap, topic, edgeId, '8', '30000'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      children.add(child)
      let out = ''
      let err = ''
      child.stdout!.on('data', (d) => {
        out += d
      })
      child.stderr!.on('data', (d) => {
        err += d
      })
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => {
          children.delete(child)
          resolve(code)
        }),
      )
      await Promise.race([
        eventually(() => out.includes('ready\n'), 120_000, 'the edge process starts'),
        exited.then((code) => assert.fail(`the edge process exited (${code}) before it was ready: ${err}`)),
      ])
      const mostInFlight = () => Math.max(0, ...[...out.matchAll(/inflight (\d+)/g)].map((m) => Number(m[1])))
      return { child, output: () => out, exited, mostInFlight }
    }

    // Two runs killed with SIGKILL mid-stream (while the backlog drains), each after Kafka got 3000 more records.
    let seen = 0
    let most = 0
    for (let i = 0; i < 2; i++) {
      const edge = await run()
      await eventually(async () => (await edgeCount(kafka, topic)) >= seen + 3000, 120_000, 'records reach Kafka')
      edge.child.kill('SIGKILL')
      await edge.exited
      most = Math.max(most, edge.mostInFlight())
      seen = await edgeCount(kafka, topic)
      assert.ok(seen < 30_000, `killed mid-stream (${seen} records in Kafka)`)
    }
    // The killed runs had several appends in flight at once.
    assert.ok(most > 1, `appends in flight at once: ${most}`)
    const last = await run()
    await eventually(async () => (await edgeCount(kafka, topic)) >= 30_000, 180_000, 'the backlog reaches Kafka')
    last.child.kill('SIGTERM')
    assert.equal(await last.exited, 0)
    const total = Number(/done (\d+)/.exec(last.output())?.[1])

    const source = await openEmbeddedLog({ dir, readOnly: true })
    t.after(() => source.close())
    const records = await assertExactlyOnce(source, kafka, topic, edgeId)
    assert.equal(records.length, total)
    assert.ok(total >= 30_000)
    assert.equal(await edgeCount(kafka, topic), total)
    assertKeyOrder(records.sort((a, b) => a.partition - b.partition || a.offset - b.offset))
  })
})
