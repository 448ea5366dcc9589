// The backbones the processor tests run on (one suite, every implementation): the embedded log in a temporary
// directory, and the Kafka broker the test command starts (packages/log-kafka/test/helpers.ts).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type EventLog, openEmbeddedLog, type ProducerRecord, readTopic } from '@openfactory/log'
import { OpenFactoryError } from '@openfactory/model'
import { openTestLog } from '../../../log-kafka/test/helpers.ts'
import type { ProcessorSpec } from '../../src/processor/processor.ts'

export interface Backbone {
  readonly name: string
  open(t: TestContext): Promise<EventLog>
}

export const BACKBONES: readonly Backbone[] = [
  {
    name: 'embedded',
    async open(t) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-sql-'))
      const log = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
      t.after(async () => {
        await log.close()
        fs.rmSync(dir, { recursive: true, force: true })
      })
      return log
    },
  },
  { name: 'kafka', open: (t) => openTestLog(t) },
]

/** A topic name no other test uses (the Kafka broker is shared by the whole run). */
export function uniqueTopic(base: string): string {
  return `${base}-${randomUUID().slice(0, 8)}`
}

/** Every record of a topic, partition by partition, in offset order. */
export { readTopic }

/** Polls until `check` holds (a processor works in the background). */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
  state?: () => Promise<string> | string,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${state ? `: ${await state()}` : ''}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** The fault an append meets: none, refused before writing, or written (all or a prefix) and then refused. */
export type Fault = undefined | { readonly kind: 'before' } | { readonly kind: 'after'; readonly prefix?: number }

/**
 * An EventLog whose appends fail when `decide` says so — the ways a crash or a broker cuts a batch short: nothing
 * written, everything written but not acknowledged, or a prefix written.
 */
export function faultyLog(
  log: EventLog,
  decide: (topic: string, records: readonly ProducerRecord[]) => Fault,
): EventLog {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop !== 'append') {
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      }
      return async (topic: string, records: readonly ProducerRecord[]) => {
        const fault = decide(topic, records)
        if (!fault) return target.append(topic, records)
        if (fault.kind === 'after') await target.append(topic, records.slice(0, fault.prefix ?? records.length))
        throw new Error(`injected fault: append to ${topic} ${fault.kind === 'before' ? 'refused' : 'cut short'}`)
      }
    },
  })
}

// ---- the running-totals processor: exactly-once shows as every key counting 1..n, each once ------------------

export interface Totals {
  readonly count: number
  readonly sum: number
}

/** Running count and sum per key; a value `bad` is refused as a processing error. */
export function totals(id: string, input: string, output: string): ProcessorSpec {
  return {
    id,
    inputs: [input],
    outputs: [output],
    stores: ['totals'],
    process(r, ctx) {
      const key = r.key?.toString() ?? ''
      const text = r.value?.toString() ?? ''
      if (text === 'bad') throw new OpenFactoryError('OFA_SQL_VALUE', `not a number: ${text}`)
      const store = ctx.store<Totals>('totals')
      const prev = store.get(key) ?? { count: 0, sum: 0 }
      const next = { count: prev.count + 1, sum: prev.sum + Number(text) }
      store.put(key, next)
      ctx.emit(output, { key, value: JSON.stringify(next), timestamp: r.timestamp })
    },
  }
}

/** Recent timestamps: Kafka's retention (7 days by default) deletes older records at any moment. */
export const T0 = Date.now()

/** Appends records `from`..`from + n - 1`: value the number, key `k<number mod keys>`. */
export async function fill(log: EventLog, topic: string, from: number, n: number, keys = 7): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({
    key: `k${(from + i) % keys}`,
    value: String(from + i),
    timestamp: T0 + from + i,
  }))
  for (let i = 0; i < records.length; i += 500) await log.append(topic, records.slice(i, i + 500))
}

/** Per key, the counts emitted, in order: exactly 1..n when nothing was lost or written twice. */
export async function countsByKey(log: EventLog, topic: string): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>()
  for (const r of await readTopic(log, topic)) {
    const k = r.key?.toString() ?? ''
    const list = out.get(k) ?? []
    list.push((JSON.parse(r.value?.toString() ?? '{}') as Totals).count)
    out.set(k, list)
  }
  return out
}

/** Every key's running count is 1..n, each once, and there are `total` in all. */
export function assertExactlyOnce(counts: Map<string, number[]>, total: number): void {
  let n = 0
  for (const [key, list] of counts) {
    assert.deepEqual(
      list,
      list.map((_, i) => i + 1),
      `${key}: every count once, in order`,
    )
    n += list.length
  }
  assert.equal(n, total)
}
