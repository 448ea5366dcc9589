// The backbones the processor tests run on (one suite, every implementation): the embedded log in a temporary
// directory, and the Kafka broker the test command starts (packages/log-kafka/test/helpers.ts).
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type EventLog, type LogRecord, openEmbeddedLog, type ProducerRecord } from '@openfactory/log'
import { openTestLog } from '../../../log-kafka/test/helpers.ts'

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
export async function readTopic(log: EventLog, topic: string): Promise<LogRecord[]> {
  const d = await log.describeTopic(topic)
  const out: LogRecord[] = []
  for (const s of d.partitionStates) {
    let offset = s.startOffset
    while (offset < s.endOffset) {
      const batch = await log.read(topic, s.partition, offset)
      if (batch.length === 0) break
      out.push(...batch)
      offset = (batch.at(-1) as LogRecord).offset + 1
    }
  }
  return out
}

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
