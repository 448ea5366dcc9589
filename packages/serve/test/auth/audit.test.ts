// readAudit seeks instead of reading the whole trail: a binary search over append timestamps for `since`, a backward
// read for `limit`. Checked against a plain filter of every record, and by counting the records it reads.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { AUDIT_TOPIC, type AuditRecord, readAudit } from '../../src/auth/audit.ts'
import { createTestLog } from '../helpers/log.ts'

const T0 = Date.parse('2026-12-01T00:00:00.000Z')
const N = 5000

test('readAudit: since and limit give what a filter of the whole trail gives, reading a small part of it', async (t) => {
  const log = await createTestLog(t)
  await log.createTopic({ name: AUDIT_TOPIC, partitions: 1, cleanupPolicy: 'delete' })
  // One record a second; every 97th is not ours (garbage a reader must skip, and not count against `limit`).
  const all: AuditRecord[] = []
  const records = []
  for (let i = 0; i < N; i++) {
    const at = new Date(T0 + i * 1000).toISOString()
    const rec: AuditRecord = { at, who: 'key:k1', kind: 'command', action: `call m${i}`, outcome: 'ok' }
    const garbage = i % 97 === 0
    if (!garbage) all.push(rec)
    records.push({ value: garbage ? '{not json' : JSON.stringify(rec), timestamp: T0 + i * 1000 })
  }
  await log.append(AUDIT_TOPIC, records)

  let read = 0
  // readAudit uses listTopics, describeTopic and read: the same log, counting what read returns.
  const counting = {
    listTopics: () => log.listTopics(),
    describeTopic: (name: string) => log.describeTopic(name),
    read: async (...args: Parameters<EventLog['read']>) => {
      const batch = await log.read(...args)
      read += batch.length
      return batch
    },
  } as unknown as EventLog
  const cases: { since?: string; limit?: number }[] = [
    {},
    { limit: 10 },
    { limit: N * 2 },
    { since: new Date(T0 + 4000 * 1000).toISOString() },
    { since: new Date(T0 + 4000 * 1000 + 1).toISOString(), limit: 5 },
    { since: new Date(T0 + 4990 * 1000).toISOString(), limit: 50 },
    { since: new Date(T0 - 1000).toISOString() },
    { since: new Date(T0 + N * 1000).toISOString() },
    { since: '2026-12-01' },
  ]
  for (const c of cases) {
    read = 0
    const want = all.filter((r) => c.since === undefined || Date.parse(r.at) >= Date.parse(c.since))
    const got = await readAudit(counting, c)
    assert.deepEqual(got, c.limit !== undefined ? want.slice(-c.limit) : want, JSON.stringify(c))
    if (c.limit === 10) assert.ok(read <= 20, `limit 10 read ${read} records`)
    if (c.since !== undefined && Date.parse(c.since) > T0 + 3000 * 1000) {
      // The search reads one record a step (~13 steps), then from 60 s before `since` to the end.
      assert.ok(read < N - 3000 + 100, `since ${c.since} read ${read} records`)
    }
  }
  assert.deepEqual(await readAudit(log, { limit: 0 }), [])
})

test('readAudit: no trail yet is an empty answer', async (t) => {
  assert.deepEqual(await readAudit(await createTestLog(t), { since: '2026-01-01T00:00:00Z', limit: 3 }), [])
})
