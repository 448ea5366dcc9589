// A flooding publisher against Debian's Mosquitto: one topic gets far more messages than `max_messages_per_s` beside
// a normal topic. The connector's clock is ours (deps.now) so the one-second window is the test's, not the machine's:
// the flooded item takes exactly the limit, every other message is counted as dropped (accepted + dropped = sent),
// the item says OFA_MQTT_FLOOD once, and the normal topic's values all arrive.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRecordingContext, deviceConfig, eventually } from '@openfactory/connectors/testing'
import { MqttConnector, parseMqttDevice } from '../src/index.ts'
import { mosquittoPub, sharedBroker, uniqueTopic } from './broker.ts'

const TIMINGS = { backoff: { initialMs: 100, maxMs: 500 }, connectTimeoutMs: 2000 }
const LIMIT = 50
const FLOOD = 2000
const NORMAL = 40

test('a flooded topic is held to max_messages_per_s, its drops counted exactly; the topic beside it loses nothing', async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const config = parseMqttDevice(
    deviceConfig(
      {
        type: 'mqtt',
        url: broker.url,
        max_messages_per_s: LIMIT,
        topics: {
          noisy: { topic: `${base}/noisy`, tag: 'Load', payload: 'raw' },
          calm: { topic: `${base}/calm`, tag: 'Temperature', payload: 'raw' },
        },
      },
      { uuid: 'MQTT-FLOOD' },
    ),
  )
  let clock = Date.parse('2026-01-02T03:04:05.000Z')
  const c = new MqttConnector(config, { timings: TIMINGS, now: () => clock })
  const ctx = createRecordingContext()
  await c.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await c.stop()
  })
  await eventually(() => (ctx.availability.at(-1)?.available ? true : undefined), 10_000, 'AVAILABLE')
  const of = (id: string) => ctx.published.filter((p) => p.observation.id === id).map((p) => p.observation)

  const flood = Array.from({ length: FLOOD }, (_, i) => String(i + 1))
  const calm = Array.from({ length: NORMAL }, (_, i) => String(1000 + i))
  await Promise.all([mosquittoPub(broker, `${base}/noisy`, flood), mosquittoPub(broker, `${base}/calm`, calm)])
  await eventually(() => (of('calm').length === NORMAL ? true : undefined), 20_000, 'calm observations')
  await eventually(
    () =>
      c.stats.floodDropped + of('noisy').filter((o) => o.value !== 'UNAVAILABLE').length === FLOOD ? true : undefined,
    20_000,
    'every flood message accepted or dropped',
  )

  // The normal topic: every value, in order.
  assert.deepEqual(
    of('calm').map((o) => o.value),
    calm.map(Number),
  )
  // The flooded one: exactly the limit accepted (the first ones), the rest counted, the operator told once.
  const noisy = of('noisy')
  const accepted = noisy.filter((o) => o.value !== 'UNAVAILABLE')
  assert.deepEqual(
    accepted.map((o) => o.value),
    flood.slice(0, LIMIT).map(Number),
  )
  assert.equal(c.stats.floodDropped, FLOOD - LIMIT)
  assert.deepEqual(c.stats.floodDroppedBy, { noisy: FLOOD - LIMIT })
  assert.deepEqual(c.metrics(), { messagesDropped: { flood: FLOOD - LIMIT } })
  const told = noisy.filter((o) => o.value === 'UNAVAILABLE')
  assert.equal(told.length, 1)
  assert.equal(told[0]?.attributes.quality, 'BAD')
  assert.match(String(told[0]?.attributes.reason), /^OFA_MQTT_FLOOD: more than 50 messages within a second/)
  assert.equal(c.stats.unmatched, 0)

  // The next second: the item takes messages again, nothing more is dropped.
  clock += 1000
  await mosquittoPub(broker, `${base}/noisy`, ['7', '8'])
  await eventually(() => (of('noisy').length === LIMIT + 1 + 2 ? true : undefined), 10_000, 'next window')
  assert.deepEqual(
    of('noisy')
      .slice(-2)
      .map((o) => o.value),
    [7, 8],
  )
  assert.equal(c.stats.floodDropped, FLOOD - LIMIT)
})
