// A flooding Sparkplug B edge node beside a calm one, both edge nodes we did not write the stack of (paho-mqtt and
// Google's protobuf: scripts/peers/sparkplug_edge.py), through Debian's Mosquitto, each read by its own host under
// one supervisor writing to a real embedded log. The hosts' clock is the test's (deps.now), so the one-second window
// is ours: the flooded node takes exactly `max_messages_per_s` NDATA, the rest are counted as dropped (in the
// connector's stats and in the supervisor's metrics, what /metrics serves), and the calm node loses nothing. The
// drops are ours, not a loss on the way: the next second's data is taken without a sequence gap or a rebirth.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createSupervisor } from '@openfactory/connectors'
import { createFactoryTestLog, deviceConfig, eventually } from '@openfactory/connectors/testing'
import { readTopic } from '@openfactory/log/testing'
import { decodeAssetEvent, silentLogger, TOPICS } from '@openfactory/model'
import { startEdge } from '../../../scripts/sparkplug-edge.ts'
import { MqttConnector, parseMqttDevice } from '../src/index.ts'
import { type Broker, sharedBroker } from './broker.ts'

const TIMINGS = { backoff: { initialMs: 100, maxMs: 500 }, connectTimeoutMs: 2000 }
const LIMIT = 50
const FLOOD = 2000
const CALM = 40

function host(broker: Broker, group: string, node: string, uuid: string, now: () => number): MqttConnector {
  const id = `${uuid}-${process.pid}`
  const config = parseMqttDevice(
    deviceConfig(
      {
        type: 'mqtt',
        url: broker.url,
        client_id: `ofa-${id}`,
        max_messages_per_s: LIMIT,
        sparkplug: { group_id: group, edge_node_id: node, host_id: `host-${id}` },
      },
      { uuid },
    ),
  )
  return new MqttConnector(config, { timings: TIMINGS, now })
}

async function edge(t: TestContext, broker: Broker, group: string, node: string) {
  const e = await startEdge({ port: broker.port, group, node, device: 'Sensor1', bdSeq: 1 })
  t.after(() => e.stop())
  await e.waitFor((l) => l === 'ready', 'ready')
  return e
}

test('a flooding edge node is held to max_messages_per_s, its drops counted exactly (stats and supervisor metrics); the other edge node loses nothing', async (t) => {
  const broker = await sharedBroker()
  const group = `F-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
  let clock = Date.parse('2026-01-02T03:04:05.000Z')
  const now = () => clock
  const noisy = host(broker, group, 'Noisy', 'SP-NOISY', now)
  const calm = host(broker, group, 'Calm', 'SP-CALM', now)
  const { log } = await createFactoryTestLog(t)
  const supervisor = createSupervisor({ eventLog: log, logger: silentLogger, restartBackoff: { initialMs: 50 } })
  t.after(() => supervisor.stop())
  supervisor.add(noisy)
  supervisor.add(calm)
  const noisyEdge = await edge(t, broker, group, 'Noisy')
  const calmEdge = await edge(t, broker, group, 'Calm')
  await supervisor.start()
  // Both hosts asked for births when they connected and have them.
  await eventually(
    () => ((noisy.sparkplug?.stats.births ?? 0) >= 2 && (calm.sparkplug?.stats.births ?? 0) >= 2 ? true : undefined),
    20_000,
    'the births of both nodes',
  )
  /** The Uptime values of a node on the log, in log order (NBIRTH's 0 and the UNAVAILABLE of a declaration left out). */
  const uptimes = async (uuid: string) => {
    const out: unknown[] = []
    for (const r of await readTopic(log, TOPICS.assets)) {
      if (r.key?.toString() !== uuid || r.value === null) continue
      const e = decodeAssetEvent(r.value)
      if (
        e.kind === 'observation' &&
        e.observation.id === 'Uptime' &&
        typeof e.observation.value === 'number' &&
        e.observation.value !== 0
      ) {
        out.push(e.observation.value)
      }
    }
    return out
  }

  noisyEdge.send(`burst ${FLOOD}`)
  calmEdge.send(`burst ${CALM}`)
  await noisyEdge.waitFor((l) => l === `burst ${FLOOD}`, 'the flood sent', 30_000)
  await calmEdge.waitFor((l) => l === `burst ${CALM}`, 'the calm burst sent')
  await eventually(
    () => (noisy.stats.floodDropped === FLOOD - LIMIT ? true : undefined),
    30_000,
    'every flood message past the limit dropped',
  )
  await supervisor.flush()
  await eventually(async () => ((await uptimes('SP-CALM')).length === CALM ? true : undefined), 20_000, 'the calm node')
  await supervisor.flush()

  // The flooded node: exactly the first LIMIT on the log, the rest counted, by edge node.
  assert.deepEqual(
    await uptimes('SP-NOISY'),
    Array.from({ length: LIMIT }, (_, i) => i + 1),
  )
  assert.equal(noisy.stats.floodDropped, FLOOD - LIMIT)
  assert.deepEqual(noisy.stats.floodDroppedBy, { Noisy: FLOOD - LIMIT })
  // The calm node: every value, in order, nothing dropped.
  assert.deepEqual(
    await uptimes('SP-CALM'),
    Array.from({ length: CALM }, (_, i) => i + 1),
  )
  assert.equal(calm.stats.floodDropped, 0)
  // The supervisor's metrics: what /metrics serves as ofa_connector_messages_dropped_total{connector,reason}.
  assert.deepEqual(supervisor.connectorMetrics(), {
    'SP-NOISY': { messagesDropped: { flood: FLOOD - LIMIT } },
    'SP-CALM': { messagesDropped: {} },
  })

  // The next second: the flooded node's data is taken again, its dropped seqs are no gap (no rebirth asked).
  const rebirths = noisy.sparkplug?.stats.rebirthsRequested
  clock += 1000
  noisyEdge.send('ndata 777')
  await eventually(
    async () => ((await uptimes('SP-NOISY')).at(-1) === 777 ? true : undefined),
    20_000,
    'the next second',
  )
  assert.equal(noisy.sparkplug?.stats.sequenceGaps, 0)
  assert.equal(noisy.sparkplug?.stats.rebirthsRequested, rebirths)
  assert.equal(calm.sparkplug?.stats.sequenceGaps, 0)
  assert.equal(noisy.stats.floodDropped, FLOOD - LIMIT)
})
