// A broker outage under a factory on Kafka: `ofa up --bootstrap` keeps its connectors' observations while the
// broker is stopped (the supervisor buffers them), and once it is back everything is on Kafka, the state follows
// again and methods answer. The broker stopped here is this file's own cluster, `outage` (other test files share
// `test` and `test-3`), started and deleted by the test.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { silentLogger } from '@openfactory/model'
import { type ClusterState, start, stop } from '../../../scripts/kafka.ts'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { demoCopy, eventually, getJson } from './helpers.ts'

const CLUSTER = 'outage'
let cluster: ClusterState

before(async () => {
  cluster = await start({ name: CLUSTER, brokers: 1 })
})
after(() => stop(CLUSTER, true))

test('ofa up on Kafka loses nothing across a broker outage, and resumes', { timeout: 240_000 }, async (t) => {
  const dir = await demoCopy(t)
  const rt = await startLocalRuntime({
    paths: [dir],
    bootstrap: cluster.bootstrap,
    port: 0,
    logger: silentLogger,
  })
  let stopped = false
  t.after(() => (stopped ? undefined : rt.stop()))
  const api = `${rt.url}/api`
  const temperatures = async (): Promise<number[]> =>
    (await getJson(`${api}/assets/DEMO-DHT-001/history?id=temperature&limit=1000`)).items
      .filter((o: { value: unknown }) => typeof o.value === 'number')
      .map((o: { timestamp: string }) => Date.parse(o.timestamp))
  await eventually(async () => ((await temperatures()).length >= 3 ? true : undefined), 'temperatures', 30_000)

  // The sensor samples once a second. Stop the broker for a while (not a timing assertion: the length of the
  // outage), then start it again.
  const downAt = Date.now()
  await stop(CLUSTER, false)
  await new Promise((r) => setTimeout(r, 12_000))
  const upAt = Date.now()
  await start({ name: CLUSTER, brokers: 1 })

  // The state follows again: samples taken after the broker came back arrive.
  await eventually(
    async () => ((await temperatures()).some((ts) => ts > upAt + 2000) ? true : undefined),
    'samples after the outage',
    90_000,
  )
  // The samples taken while it was down were kept and written once it was back.
  const during = (await temperatures()).filter((ts) => ts > downAt + 1000 && ts < upAt - 1000)
  const seconds = Math.floor((upAt - downAt - 2000) / 1000)
  assert.ok(during.length >= seconds - 2, `${during.length} samples kept of the ${seconds} s outage`)
  assert.equal(new Set(during).size, during.length, 'each sample once')

  // Commands go through again.
  const res = await fetch(`${api}/assets/DEMO-CNC-SIM-001/methods/SetSpeed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rpm: 1700 }),
  })
  const answer = (await res.json()) as { status: string; result: unknown }
  assert.equal(answer.status, 'completed')
  assert.deepEqual(answer.result, { spindle_speed: 1700 })
  await rt.stop()
  stopped = true
})
