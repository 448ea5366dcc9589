// The SASL_SSL listener of scripts/kafka's broker: TLS with the CA the script made, SCRAM-SHA-512 (and
// SCRAM-SHA-256, PLAIN) credentials added when the storage was formatted. The options are those of
// factory.yaml's `backbone.kafka.security`.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { rejectsWith, uniqueName } from '@openfactory/log/testing'
import { type KafkaLogOptions, type KafkaSaslMechanism, openKafkaLog } from '../src/index.ts'
import { kafka } from './helpers.ts'

async function secureOptions(mechanism: KafkaSaslMechanism = 'SCRAM-SHA-512'): Promise<KafkaLogOptions> {
  const c = await kafka()
  return {
    type: 'kafka',
    bootstrapServers: c.saslBootstrap,
    clientId: 'ofa-sasl-test',
    security: {
      protocol: 'SASL_SSL',
      sasl: { mechanism, username: c.sasl.username, password: c.sasl.password },
      tls: { ca: c.tls.ca, rejectUnauthorized: true },
    },
    retries: 2,
    retryDelayMs: 100,
  }
}

async function roundTrip(t: TestContext, opts: KafkaLogOptions): Promise<void> {
  const log = await openKafkaLog(opts)
  t.after(() => log.close())
  const topic = uniqueName('sasl')
  await log.createTopic({ name: topic, partitions: 2 })
  const metas = await log.append(topic, [
    { key: 'asset-1', value: 'over TLS' },
    { key: 'asset-2', value: 'and SCRAM' },
  ])
  for (const [i, m] of metas.entries()) {
    const [r] = await log.read(topic, m.partition, m.offset, { maxRecords: 1 })
    assert.equal(r!.value?.toString(), ['over TLS', 'and SCRAM'][i])
  }
  const group = uniqueName('sasl-group')
  const c = log.consumer({ group, topics: [topic] })
  let n = 0
  for await (const batch of c) {
    n += batch.length
    if (n < 2) continue
    await c.commit()
    break // leaving the loop closes the member
  }
  const committed = await log.committedOffsets(group, topic)
  assert.equal(
    [...committed.values()].reduce((a, b) => a + b, 0),
    2,
  )
}

describe('SASL_SSL listener', () => {
  it('appends, reads and consumes over TLS with SCRAM-SHA-512', async (t) => {
    await roundTrip(t, await secureOptions('SCRAM-SHA-512'))
  })

  it('works with SCRAM-SHA-256 and PLAIN, PEM text for the CA and a client certificate', async (t) => {
    const c = await kafka()
    const base = await secureOptions('SCRAM-SHA-256')
    await roundTrip(t, base)
    const fs = await import('node:fs')
    await roundTrip(t, {
      ...base,
      security: {
        protocol: 'SASL_SSL',
        sasl: { mechanism: 'PLAIN', username: c.sasl.username, password: c.sasl.password },
        tls: { ca: fs.readFileSync(c.tls.ca, 'utf8'), cert: c.tls.cert, key: c.tls.key },
      },
    })
  })

  it('refuses a wrong password and an unknown CA with OFA_LOG_AUTH', async () => {
    const good = await secureOptions()
    const security = good.security!
    await rejectsWith(
      () => openKafkaLog({ ...good, security: { ...security, sasl: { ...security.sasl!, password: 'wrong' } } }),
      'OFA_LOG_AUTH',
    )
    await rejectsWith(() => openKafkaLog({ ...good, security: { ...security, tls: {} } }), 'OFA_LOG_AUTH')
  })

  it('validates the security options', async () => {
    const c = await kafka()
    await rejectsWith(
      () => openKafkaLog({ bootstrapServers: c.saslBootstrap, security: { protocol: 'SASL_SSL' } }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    await rejectsWith(
      () =>
        openKafkaLog({
          bootstrapServers: c.saslBootstrap,
          security: { protocol: 'SSL', tls: { ca: '/nonexistent/ca.pem' } },
        }),
      'OFA_CONFIG_FILE',
    )
    await rejectsWith(() => openKafkaLog({ bootstrapServers: 'not a host' }), 'OFA_LOG_INVALID_ARGUMENT')
  })
})
