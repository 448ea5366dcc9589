// Webhook deliveries per second (issue 17): alerts on the log POSTed by the webhooks app to a local receiver, beside
// an anchor in the same run.
//
//   npx node bench/webhooks.ts [--records 5000] [--keys 64] [--concurrency 4] [--rounds 2]
//
// - receiver: node:http on 127.0.0.1 in this process, answering 204 to every POST once its body is read;
// - anchor: a bare loop of `fetch` POSTs (Node's undici) of bodies of the same size to the same receiver, with the same
//   number in flight (`--concurrency`) — the least any delivery must cost;
// - ours: `--records` alert events on `ofa_alerts` of an embedded log (fsync on), over `--keys` assets, delivered by
//   the webhooks app under a supervisor, from its start to the last 2xx: reading its consumer group, filtering,
//   building and signing each body (HMAC-SHA256), one POST per delivery, per-asset order, offsets committed as they
//   are acknowledged.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ALERTS_TOPIC, type AlertEvent, alertKey } from '@openfactory/alerts'
import { createSupervisor, planApp } from '@openfactory/connectors'
import { openEmbeddedLog } from '@openfactory/log'
import { loadFactory, silentLogger, TOPICS } from '@openfactory/model'
import '@openfactory/integrations'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '5000' },
    keys: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
  },
})
const RECORDS = Number(args.records)
const KEYS = Number(args.keys)
const CONCURRENCY = Number(args.concurrency)
const ROUNDS = Number(args.rounds)

let received = 0
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    received++
    res.writeHead(204).end()
  })
})
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`

function alert(i: number): AlertEvent {
  const at = new Date(Date.UTC(2026, 0, 1) + i).toISOString()
  return {
    rule: 'spindle_temp_high',
    asset: `machine-${i % KEYS}`,
    app: 'ALERTS',
    state: 'raised',
    severity: 'critical',
    at,
    raisedAt: at,
    message: `spindle_temp ${80 + (i % 10)} above 80 for 5 s`,
    item: 'spindle_temp',
    value: 80 + (i % 10),
  }
}

/** A body like ours: the envelope around one alert. */
const sampleBody = JSON.stringify({
  delivery: 'ofa_alerts:0:123456',
  webhook: 'mes',
  app: 'HOOKS',
  kind: 'alert',
  alert: alert(1),
})

async function anchor(): Promise<number> {
  let next = 0
  const start = performance.now()
  const worker = async () => {
    while (next < RECORDS) {
      next++
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: sampleBody,
      })
      await res.body?.cancel()
      if (res.status !== 204) throw new Error(`anchor: HTTP ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return RECORDS / ((performance.now() - start) / 1000)
}

async function ours(): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-webhooks-'))
  try {
    writeFileSync(path.join(dir, 'factory.yaml'), 'name: bench\nbackbone:\n  type: embedded\n')
    writeFileSync(
      path.join(dir, 'apps.yml'),
      `apps:\n  hooks:\n    uuid: HOOKS\n    webhooks:\n      mes: {url: '${url}', secret_env: S, alerts: {}, concurrency: ${CONCURRENCY}}\n`,
    )
    const factory = await loadFactory([dir])
    const log = await openEmbeddedLog({ dir: path.join(dir, 'data') })
    await log.createTopic({ name: TOPICS.assets, partitions: 6 })
    for (const name of [TOPICS.registry, TOPICS.connectorState]) {
      await log.createTopic({ name, partitions: 1, cleanupPolicy: 'compact' })
    }
    await log.createTopic({ name: ALERTS_TOPIC, partitions: 6 })
    for (let i = 0; i < RECORDS; i += 1000) {
      const batch = []
      for (let j = i; j < Math.min(RECORDS, i + 1000); j++) {
        const a = alert(j)
        batch.push({ key: alertKey(a.asset, a.rule), value: JSON.stringify(a) })
      }
      await log.append(ALERTS_TOPIC, batch)
    }
    const app = planApp(factory.apps[0]!, { eventLog: log, factory, env: { S: 'bench-secret' }, logger: silentLogger })!
    const supervisor = createSupervisor({ eventLog: log, logger: silentLogger })
    supervisor.add(app)
    received = 0
    const start = performance.now()
    await supervisor.start()
    while (received < RECORDS) await new Promise((r) => setTimeout(r, 2))
    const rate = RECORDS / ((performance.now() - start) / 1000)
    await supervisor.stop()
    await log.close()
    return rate
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(
  `webhooks: ${RECORDS} deliveries, ${KEYS} assets, concurrency ${CONCURRENCY}, Node ${process.version}, ${os.cpus().length} cores`,
)
for (let r = 0; r < ROUNDS; r++) {
  const a = await anchor()
  const o = await ours()
  console.log(
    `round ${r + 1}: anchor ${Math.round(a).toLocaleString('en')} POST/s, ours ${Math.round(o).toLocaleString('en')} deliveries/s, ours/anchor ${((o / a) * 100).toFixed(0)}%`,
  )
}
server.close()
