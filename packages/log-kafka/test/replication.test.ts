// Replication on the three-node cluster: a topic with replication factor 3 and min.insync.replicas 2 takes appends
// with acks=all while one broker (the leader of partition 0) is killed with SIGKILL mid-stream. Every append that
// was acknowledged must be readable afterwards, at the offset it was acknowledged with, exactly once.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RecordMetadata } from '@openfactory/log'
import { uniqueName } from '@openfactory/log/testing'
import { start } from '../../../scripts/kafka.ts'
import { openKafkaLog } from '../src/index.ts'
import { kafka3, nodePids } from './helpers.ts'

describe('replication (three brokers)', () => {
  it('loses no acknowledged record when a broker is killed with SIGKILL mid-stream', {
    timeout: 180_000,
  }, async (t) => {
    const c = await kafka3()
    // All three nodes up (a previous run may have left one dead); and up again after the test.
    await start({ name: c.name, brokers: 3 })
    t.after(() => start({ name: c.name, brokers: 3 }).then(() => {}))
    const log = await openKafkaLog({
      bootstrapServers: c.bootstrap,
      clientId: 'ofa-replication-test',
      retries: 60,
      retryDelayMs: 250,
      topicConfigs: { 'min.insync.replicas': '2' },
    })
    t.after(() => log.close())
    const topic = uniqueName('replicated')
    await log.createTopic({ name: topic, partitions: 3, replicationFactor: 3 })
    const created = await log.describeTopic(topic)
    assert.equal(created.replicationFactor, 3)

    // The victim: the node leading partition 0 (learned from the brokers' metadata through a second client).
    const { Admin } = await import('@platformatic/kafka')
    const admin = new Admin({ clientId: 'ofa-replication-admin', bootstrapBrokers: c.bootstrap.split(',') })
    t.after(() => admin.close())
    const md = await admin.metadata({ topics: [topic], forceUpdate: true })
    const victim = md.topics.get(topic)!.partitions[0]!.leader
    const pid = nodePids(c.name).get(victim)
    assert.ok(pid, `node ${victim} runs`)

    const acked: RecordMetadata[] = []
    const values = new Map<string, string>() // `${partition}:${offset}` -> value
    let failed = 0
    let afterKill = 0
    let seq = 0
    let killedAt = 0
    let firstAck = 0
    let lastAck = 0
    let longestPause = 0
    // Three lanes append at once; the kill comes 1.5 s after the first acknowledgement.
    const producer = async (lane: number): Promise<void> => {
      // Until 6 s after the kill and 500 records appended (from start to acknowledgement) after it; at most 60 s.
      while (!killedAt || ((Date.now() - killedAt < 6000 || afterKill < 500) && Date.now() - killedAt < 60_000)) {
        const batch = Array.from({ length: 50 }, () => {
          const n = seq++
          return { key: `asset-${n % 17}`, value: `lane${lane}-record-${n}` }
        })
        const sentAfterKill = killedAt !== 0
        try {
          const metas = await log.append(topic, batch)
          const now = Date.now()
          firstAck ||= now
          if (lastAck) longestPause = Math.max(longestPause, now - lastAck)
          lastAck = now
          if (sentAfterKill) afterKill += metas.length
          metas.forEach((m, i) => {
            acked.push(m)
            values.set(`${m.partition}:${m.offset}`, batch[i]!.value)
          })
        } catch {
          failed += batch.length // not acknowledged: may or may not be in the log
        }
        if (!killedAt && firstAck && Date.now() - firstAck > 1500) {
          killedAt = Date.now()
          process.kill(pid, 'SIGKILL')
        }
      }
    }
    await Promise.all([0, 1, 2].map(producer))
    t.diagnostic(
      `acknowledged ${acked.length} records (${afterKill} after the kill; longest pause ${longestPause} ms), ${failed} refused`,
    )
    assert.ok(afterKill >= 500, 'appends made after the kill were acknowledged (the cluster failed over)')

    // Read everything back from the surviving replicas.
    const d = await log.describeTopic(topic)
    const seen = new Map<string, string>()
    const counts = new Map<string, number>()
    for (const p of d.partitionStates) {
      for (let offset = p.startOffset; offset < p.endOffset; ) {
        const batch = await log.read(topic, p.partition, offset)
        assert.ok(batch.length > 0, `records below the end of partition ${p.partition} are readable`)
        for (const r of batch) {
          const v = r.value!.toString()
          seen.set(`${r.partition}:${r.offset}`, v)
          counts.set(v, (counts.get(v) ?? 0) + 1)
        }
        offset = batch[batch.length - 1]!.offset + 1
      }
    }
    let lost = 0
    for (const [where, v] of values) if (seen.get(where) !== v) lost++
    assert.equal(lost, 0, `${lost} acknowledged records lost or moved`)
    const duplicated = [...counts].filter(([, n]) => n > 1)
    assert.deepEqual(duplicated, [], 'no record written twice (idempotent producer)')
  })
})
