// Golden cases: SQL statements, input records (key, value, timestamp) and the exact output records, as data
// (cases/*.json), run on the embedded log through the engine. A case may restart the engine in the middle
// (`restartAfter`: the number of inputs written before it closes and reopens on the same log), or expect a
// statement to be refused with a code and a position (`error`).
//
// A case file: { "cases": [ { "name", "topics": [{"name","partitions"?}], "statements": ["..."],
//   "properties"?: {...}, "inputs": [{"topic","key"?,"value","timestamp"?}], "outputs": [{"topic","key"?,
//   "value","timestamp"?, "window"?: {"start","end"?,"type"?}}], "restartAfter"?: n,
//   "error"?: {"code","line"?,"column"?,"message"?} } ] }
// Values are JSON (objects, or text for KAFKA and DELIMITED formats, null for a tombstone); keys are text.
// Outputs are compared per topic in offset order (one partition per topic unless stated). When the inputs are of
// several topics, each input is processed before the next is written. A windowed key ends with its window: the
// start (8 bytes), or with `"type": "session"` the end then the start (8 bytes each).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { isOpenFactoryError } from '@openfactory/model'
import { openSqlEngine, type SqlEngine } from '../../src/engine.ts'
import { readTopic } from '../processor/helpers.ts'

interface GoldenRecord {
  readonly topic: string
  readonly key?: string | null
  readonly value: unknown
  readonly timestamp?: number
  readonly window?: { readonly start: number; readonly end?: number; readonly type?: 'session' }
}

interface GoldenCase {
  readonly name: string
  readonly topics?: readonly { readonly name: string; readonly partitions?: number }[]
  readonly statements: readonly string[]
  readonly properties?: Readonly<Record<string, string>>
  readonly inputs?: readonly GoldenRecord[]
  readonly outputs?: readonly GoldenRecord[]
  readonly restartAfter?: number
  readonly error?: {
    readonly code: string
    readonly line?: number
    readonly column?: number
    readonly message?: string
  }
}

const DIR = new URL('./cases/', import.meta.url).pathname

function encodeValue(v: unknown): string | null {
  if (v === null) return null
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function decodeValue(b: Buffer | null): unknown {
  if (b === null) return null
  const text = b.toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

async function runCase(c: GoldenCase): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-golden-'))
  let log: EventLog = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
  let engine: SqlEngine | undefined
  try {
    for (const t of c.topics ?? []) await log.createTopic({ name: t.name, partitions: t.partitions ?? 1 })
    engine = await openSqlEngine({ eventLog: log })
    const properties = { 'auto.offset.reset': 'earliest', ...c.properties }
    if (c.error) {
      const expected = c.error
      await assert.rejects(
        async () => {
          for (const s of c.statements) await (engine as SqlEngine).execute(s, { properties })
        },
        (err: unknown) => {
          assert.ok(isOpenFactoryError(err), `an OpenFactoryError, got ${String(err)}`)
          assert.equal(err.code, expected.code, err.message)
          if (expected.line !== undefined) assert.equal(err.where?.line, expected.line, err.message)
          if (expected.column !== undefined) assert.equal(err.where?.column, expected.column, err.message)
          if (expected.message !== undefined) assert.match(err.message, new RegExp(expected.message))
          return true
        },
      )
      return
    }
    for (const s of c.statements) await engine.execute(s, { properties })
    const inputs = c.inputs ?? []
    const severalTopics = new Set(inputs.map((r) => r.topic)).size > 1
    for (let i = 0; i < inputs.length; i++) {
      const r = inputs[i] as GoldenRecord
      await log.append(r.topic, [
        {
          key: r.key ?? null,
          value: encodeValue(r.value),
          ...(r.timestamp !== undefined ? { timestamp: r.timestamp } : {}),
        },
      ])
      // Records of several topics: each is processed before the next is written, so that which one a join sees
      // first is the order written (a real stream gives no such promise between topics).
      if (severalTopics) await engine.settle()
      if (c.restartAfter !== undefined && i + 1 === c.restartAfter) {
        await engine.settle()
        await engine.close()
        await log.close()
        log = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
        engine = await openSqlEngine({ eventLog: log })
      }
    }
    await engine.settle()
    const topics = [...new Set((c.outputs ?? []).map((o) => o.topic))]
    for (const topic of topics) {
      const expected = (c.outputs ?? []).filter((o) => o.topic === topic)
      const actual = (await readTopic(log, topic)).map((r) => {
        const windowed = expected.some((e) => e.window)
        const session = expected.some((e) => e.window?.type === 'session')
        let key: Buffer | null = r.key
        let window: GoldenRecord['window']
        if (session && key && key.length >= 16) {
          const at = key.length - 16
          window = { start: Number(key.readBigInt64BE(at + 8)), end: Number(key.readBigInt64BE(at)), type: 'session' }
          key = key.subarray(0, at)
        } else if (windowed && key && key.length >= 8) {
          window = { start: Number(key.readBigInt64BE(key.length - 8)) }
          key = key.subarray(0, key.length - 8)
        }
        return {
          topic,
          key: key === null ? null : key.toString('utf8'),
          value: decodeValue(r.value),
          timestamp: r.timestamp,
          ...(window ? { window } : {}),
        }
      })
      const shape = (list: readonly GoldenRecord[], like: readonly GoldenRecord[]) =>
        list.map((r, i) => ({
          topic: r.topic,
          key: r.key ?? null,
          value: r.value,
          ...(like[i]?.timestamp !== undefined ? { timestamp: r.timestamp } : {}),
          ...(r.window ? { window: r.window } : {}),
        }))
      assert.deepEqual(shape(actual, expected), shape(expected, expected), `outputs of ${topic}`)
    }
  } finally {
    await engine?.close()
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

for (const file of fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  const { cases } = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as { cases: GoldenCase[] }
  describe(`golden: ${file}`, () => {
    for (const c of cases) test(c.name, () => runCase(c))
  })
}
