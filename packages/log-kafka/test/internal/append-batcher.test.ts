// The append batcher's promise to a caller with several appends in flight (EventLog.failsQueuedAppends): a failed
// request fails every append of its topic queued behind it, and an append asked for before a failure (its fence)
// is refused; nothing of them is sent, while other topics go on. The requests are answered here by a function
// standing in for the brokers, so that each answer (and failure) comes exactly when the test says.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OpenFactoryError } from '@openfactory/model'
import { AppendBatcher, type QueuedRecord } from '../../src/internal/append-batcher.ts'
import type { SendRecord, SendResult } from '../../src/internal/producer.ts'

function record(topic: string, partition: number, value: string): QueuedRecord {
  return {
    topic,
    partition,
    key: undefined,
    value: Buffer.from(value),
    headers: undefined,
    timestamp: 0,
    size: 16,
    batchLimit: 1 << 20,
  }
}

/** A batcher whose requests wait until the test answers them: `answer(failing topics)`. */
function batcher() {
  const sent: SendRecord[][] = []
  const pending: ((failing: readonly string[]) => void)[] = []
  const b = new AppendBatcher({
    lingerMs: 0,
    maxBatchBytes: 1 << 20,
    send: (records) =>
      new Promise<SendResult>((resolve) => {
        sent.push([...records])
        pending.push((failing) => {
          const result: SendResult = new Map()
          let offset = 0
          for (const r of records) {
            const tp = `${r.topic}\0${r.partition}`
            if (result.has(tp)) continue
            result.set(
              tp,
              failing.includes(r.topic)
                ? { error: new OpenFactoryError('OFA_LOG_IO', `injected: ${r.topic} failed`, { retryable: true }) }
                : { baseOffset: offset },
            )
            offset += 100
          }
          resolve(result)
        })
      }),
  })
  const answer = async (failing: readonly string[] = []): Promise<void> => {
    pending.shift()!(failing)
    await new Promise((r) => setImmediate(r))
  }
  return { b, sent, answer }
}

const settled = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: Error) => err.message,
  )

describe('append batcher', () => {
  it('fails the appends of a topic queued behind a failed request, not those of other topics', async () => {
    const { b, sent, answer } = batcher()
    const first = settled(b.append([record('a', 0, 'a0'), record('a', 1, 'a1')]))
    // Queued while the first request is out: two more of topic a, one of topic b.
    const second = settled(b.append([record('a', 0, 'a2')]))
    const third = settled(b.append([record('a', 1, 'a3')]))
    const other = settled(b.append([record('b', 0, 'b0')]))
    assert.equal(sent.length, 1)
    await answer(['a'])
    assert.equal(await first, 'injected: a failed')
    assert.equal(await second, 'injected: a failed')
    assert.equal(await third, 'injected: a failed', 'another partition of the same topic too')
    // Only topic b's record went out after the failure.
    assert.deepEqual(
      sent[1]?.map((r) => r.value?.toString()),
      ['b0'],
    )
    await answer()
    assert.equal(await other, 'ok')
    // Appends asked for after the failure was answered go out as usual.
    const later = settled(b.append([record('a', 0, 'a4')], b.failures('a')))
    await answer()
    assert.equal(await later, 'ok')
    assert.deepEqual(
      sent.map((s) => s.map((r) => r.value?.toString())),
      [['a0', 'a1'], ['b0'], ['a4']],
    )
  })

  it('refuses an append whose fence predates a failure of its topic, sending nothing of it', async () => {
    const { b, sent, answer } = batcher()
    const fence = b.failures('a')
    assert.equal(fence, 0)
    const first = settled(b.append([record('a', 0, 'x')], fence))
    await answer(['a'])
    assert.equal(await first, 'injected: a failed')
    assert.equal(b.failures('a'), 1)
    // Asked for (fence taken) before the failure, handed over after it: refused with the failure's error.
    assert.equal(await settled(b.append([record('a', 0, 'y')], fence)), 'injected: a failed')
    // Topic b's fence is untouched by topic a's failure.
    const other = settled(b.append([record('b', 0, 'z')], 0))
    await answer()
    assert.equal(await other, 'ok')
    assert.deepEqual(
      sent.map((s) => s.map((r) => r.value?.toString())),
      [['x'], ['z']],
    )
  })
})
