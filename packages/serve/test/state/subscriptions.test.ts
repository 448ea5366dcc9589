import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isOpenFactoryError, type OpenFactoryError } from '@openfactory/model'
import { createSubscriptionHub, parseSubscriptionSpec, type SubscriberSink } from '../../src/index.ts'
import { createTestLog, createTestState, declare, publish, sample, sensor, waitFor } from '../helpers/log.ts'

interface Message {
  id: string
  kind: 'snapshot' | 'update'
  data: unknown
}

/**
 * A sink that records what it is sent. `buffered` is what the transport still holds; with `stalled`, the
 * client reads nothing, so everything sent stays buffered.
 */
function recordingSink(): SubscriberSink & {
  messages: Message[]
  closedWith: OpenFactoryError | null
  buffered: number
  stalled: boolean
} {
  const sink = {
    messages: [] as Message[],
    closedWith: null as OpenFactoryError | null,
    buffered: 0,
    stalled: false,
    send(text: string, kind: 'snapshot' | 'update') {
      if (sink.stalled) sink.buffered += text.length
      const m = JSON.parse(text) as Message
      assert.equal(m.kind, kind)
      sink.messages.push(m)
    },
    bufferedBytes: () => sink.buffered,
    close(err: OpenFactoryError) {
      sink.closedWith = err
    },
  }
  return sink
}

const updates = (sink: { messages: Message[] }, id: string) =>
  sink.messages
    .filter((m) => m.id === id && m.kind === 'update')
    .map((m) => m.data as { assetUuid: string; id: string; value: unknown })

async function factory(t: import('node:test').TestContext) {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await declare(log, sensor('m-2', ['Demofactory', 'Machining', 'WC002', 'm-2']))
  await declare(log, sensor('a-1', ['Demofactory', 'Assembly', 'WC010', 'a-1']))
  await waitFor('three assets', () => state.has('m-1') && state.has('m-2') && state.item('a-1', 'system'))
  const hub = createSubscriptionHub({ state })
  t.after(() => hub.close())
  return { log, state, hub }
}

test('a subscriber gets a snapshot of every matching item, then updates (UNS wildcards)', async (t) => {
  const { log, hub } = await factory(t)
  const sink = recordingSink()
  const conn = hub.connect(sink)
  conn.subscribe({ id: 'machining', uns: 'Demofactory/Machining/#' })
  conn.subscribe({ id: 'temps', uns: 'Demofactory/+/+/+/Temp' })
  conn.subscribe({ id: 'one', assets: ['a-1'], items: ['Hum'] })
  conn.subscribe({ id: 'execs', items: ['exec'] })
  conn.subscribe({ id: 'all' })

  const snap = (id: string) =>
    sink.messages.find((m) => m.id === id && m.kind === 'snapshot')?.data as { assetUuid: string; id: string }[]
  assert.deepEqual(new Set(snap('machining').map((d) => d.assetUuid)), new Set(['m-1', 'm-2']))
  assert.ok(snap('machining').length >= 2 * 4)
  assert.deepEqual(
    snap('temps')
      .map((d) => `${d.assetUuid}|${d.id}`)
      .sort(),
    ['a-1|Temp', 'm-1|Temp', 'm-2|Temp'],
  )
  assert.deepEqual(
    snap('one').map((d) => `${d.assetUuid}|${d.id}`),
    ['a-1|Hum'],
  )
  assert.equal(snap('execs').length, 3)
  assert.ok(snap('all').length >= 3 * 8)

  await publish(log, 'm-1', [sample('Temp', 20), sample('Hum', 40)])
  await publish(log, 'a-1', [sample('Temp', 30), sample('Hum', 50)])
  await waitFor('the updates', () => updates(sink, 'all').length === 4)
  assert.deepEqual(
    updates(sink, 'machining').map((d) => `${d.assetUuid}|${d.id}=${d.value}`),
    ['m-1|Temp=20', 'm-1|Hum=40'],
  )
  assert.deepEqual(
    updates(sink, 'temps').map((d) => `${d.assetUuid}=${d.value}`),
    ['m-1=20', 'a-1=30'],
  )
  assert.deepEqual(
    updates(sink, 'one').map((d) => d.value),
    [50],
  )
  assert.deepEqual(updates(sink, 'execs'), [])
  assert.deepEqual(hub.stats().subscriptions, 5)

  assert.equal(conn.unsubscribe('temps'), true)
  assert.equal(conn.unsubscribe('temps'), false)
  await publish(log, 'm-2', [sample('Temp', 21)])
  await waitFor('the update', () => updates(sink, 'all').length === 5)
  assert.equal(updates(sink, 'temps').length, 2)
  conn.close()
  assert.equal(hub.stats().subscriptions, 0)
  assert.equal(hub.stats().connections, 0)
})

test('a UNS subscription follows assets that appear after it', async (t) => {
  const { log, hub } = await factory(t)
  const sink = recordingSink()
  hub.connect(sink).subscribe({ id: 'new', uns: 'Demofactory/Painting/#' })
  assert.deepEqual(sink.messages[0]?.data, [])
  await declare(log, sensor('p-1', ['Demofactory', 'Painting', 'WC020', 'p-1']))
  await publish(log, 'p-1', [sample('Temp', 55)])
  await waitFor('the new asset', () => updates(sink, 'new').some((d) => d.value === 55))
  assert.ok(updates(sink, 'new').every((d) => d.assetUuid === 'p-1'))
})

test('a subscription id cannot be reused on one connection; malformed specs are coded errors', async (t) => {
  const { hub } = await factory(t)
  const conn = hub.connect(recordingSink())
  conn.subscribe({ id: 's1' })
  assert.throws(
    () => conn.subscribe({ id: 's1' }),
    (err) => isOpenFactoryError(err, 'OFA_SERVE_MESSAGE_INVALID'),
  )
  for (const bad of [{}, { id: '' }, { id: 's', assets: 'm-1' }, { id: 's', items: [1] }, { id: 's', uns: 'a/#/b' }]) {
    assert.throws(
      () => parseSubscriptionSpec(bad, 'OFA_SERVE_MESSAGE_INVALID'),
      (err) => isOpenFactoryError(err, 'OFA_SERVE_MESSAGE_INVALID') && typeof err.where?.path === 'string',
      JSON.stringify(bad),
    )
  }
})

test('a slow consumer is dropped with OFA_SERVE_SLOW_CONSUMER without holding up the others', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  await publish(log, 'x', [sample('Temp', 0)])
  await waitFor('x', () => state.has('x'))
  const hub = createSubscriptionHub({ state, maxBufferedBytes: 1000 })
  t.after(() => hub.close())
  const slow = recordingSink()
  const fast = recordingSink()
  hub.connect(slow).subscribe({ id: 's', assets: ['x'] })
  hub.connect(fast).subscribe({ id: 'f', assets: ['x'] })
  slow.stalled = true // stopped reading
  for (let i = 1; i <= 20; i++) await publish(log, 'x', [sample('Temp', i)])
  await waitFor('the fast one got all', () => updates(fast, 'f').length === 20)
  assert.ok(slow.closedWith && isOpenFactoryError(slow.closedWith, 'OFA_SERVE_SLOW_CONSUMER'))
  const queued = updates(slow, 's').length
  assert.ok(queued > 0 && queued < 20, `bounded: ${queued} updates queued before the drop`)
  assert.equal(hub.stats().slowConsumersDropped, 1)
  assert.equal(hub.stats().connections, 1)
})

test('a large snapshot still waiting to be sent does not count against the update queue', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  await publish(
    log,
    'big',
    Array.from({ length: 50 }, (_, i) => sample(`item-${i}`, i)),
  )
  await waitFor('big', () => state.item('big', 'item-49'))
  const hub = createSubscriptionHub({ state, maxBufferedBytes: 500 })
  t.after(() => hub.close())
  const sink = recordingSink()
  const conn = hub.connect(sink)
  conn.subscribe({ id: 's', assets: ['big'] })
  const snapshotBytes = JSON.stringify(sink.messages[0]).length
  assert.ok(snapshotBytes > 5000)
  sink.buffered = snapshotBytes // the snapshot is still queued
  sink.stalled = true
  await publish(log, 'big', [sample('item-0', 100)])
  await waitFor('the update', () => updates(sink, 's').length === 1)
  assert.equal(sink.closedWith, null)
})

test('closing the hub drops every connection with OFA_SERVE_UNAVAILABLE', async (t) => {
  const { hub } = await factory(t)
  const a = recordingSink()
  hub.connect(a).subscribe({ id: 'x' })
  hub.close()
  assert.ok(a.closedWith && isOpenFactoryError(a.closedWith, 'OFA_SERVE_UNAVAILABLE'))
})
