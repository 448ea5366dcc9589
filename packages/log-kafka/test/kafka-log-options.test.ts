// Options of the Kafka backbone, validated once: no broker needed here.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isOpenFactoryError, type KafkaBackboneOptions } from '@openfactory/model'
import { parseBootstrapServers, resolveKafkaLogOptions } from '../src/kafka-log-options.ts'

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => isOpenFactoryError(err) && err.code === code)
}

describe('Kafka log options', () => {
  it('splits and checks bootstrap servers', () => {
    assert.deepEqual(parseBootstrapServers('127.0.0.1:9092, kafka-2:9093'), ['127.0.0.1:9092', 'kafka-2:9093'])
    assert.deepEqual(parseBootstrapServers(['[::1]:9092']), ['[::1]:9092'])
    throwsCode(() => parseBootstrapServers('kafka'), 'OFA_LOG_INVALID_ARGUMENT')
    throwsCode(() => parseBootstrapServers('kafka:0'), 'OFA_LOG_INVALID_ARGUMENT')
    throwsCode(() => parseBootstrapServers([]), 'OFA_LOG_INVALID_ARGUMENT')
  })

  it('applies defaults: PLAINTEXT, acks=all, no linger', () => {
    const o = resolveKafkaLogOptions({ bootstrapServers: 'localhost:9092' })
    assert.equal(o.clientId, 'openfactory')
    assert.equal(o.protocol, 'PLAINTEXT')
    assert.equal(o.acks, 'all')
    assert.equal(o.lingerMs, 0)
    assert.equal(o.tls, undefined)
    assert.equal(o.sasl, undefined)
    assert.deepEqual(o.topicConfigs({ name: 't', partitions: 1 }), {})
  })

  it('accepts the backbone of a factory manifest as it is', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-kafka-opts-'))
    try {
      const ca = path.join(dir, 'ca.pem')
      fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
      // What the manifest loader gives for `backbone: {type: kafka, ...}`: passed as it is (checked by tsc too).
      const backbone: KafkaBackboneOptions = {
        type: 'kafka',
        bootstrapServers: ['broker-1:9093', 'broker-2:9093'],
        clientId: 'openfactory',
        security: {
          protocol: 'SASL_SSL',
          sasl: { mechanism: 'SCRAM-SHA-512', username: 'ofa', password: 'secret' },
          tls: { ca, rejectUnauthorized: true },
        },
      }
      const o = resolveKafkaLogOptions(backbone)
      assert.deepEqual(o.brokers, ['broker-1:9093', 'broker-2:9093'])
      assert.equal(o.protocol, 'SASL_SSL')
      assert.deepEqual(o.sasl, { mechanism: 'SCRAM-SHA-512', username: 'ofa', password: 'secret' })
      assert.match(String(o.tls?.ca), /BEGIN CERTIFICATE/)
      assert.equal(o.tls?.rejectUnauthorized, true)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses inconsistent security settings', () => {
    const b = 'localhost:9092'
    throwsCode(
      () => resolveKafkaLogOptions({ bootstrapServers: b, security: { protocol: 'SASL_SSL' } }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    throwsCode(
      () =>
        resolveKafkaLogOptions({
          bootstrapServers: b,
          security: { protocol: 'PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } },
        }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    throwsCode(
      () =>
        resolveKafkaLogOptions({
          bootstrapServers: b,
          security: {
            protocol: 'SASL_PLAINTEXT',
            sasl: { mechanism: 'GSSAPI' as 'PLAIN', username: 'u', password: 'p' },
          },
        }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    throwsCode(
      () =>
        resolveKafkaLogOptions({
          bootstrapServers: b,
          security: { protocol: 'SSL', tls: { cert: '-----BEGIN CERTIFICATE-----' } },
        }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    throwsCode(
      () =>
        resolveKafkaLogOptions({
          bootstrapServers: b,
          security: { protocol: 'SSL', tls: { ca: '/nonexistent/ca.pem' } },
        }),
      'OFA_CONFIG_FILE',
    )
    throwsCode(
      () => resolveKafkaLogOptions({ bootstrapServers: b, acks: 0 as unknown as 'all' }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    throwsCode(() => resolveKafkaLogOptions({ bootstrapServers: b, lingerMs: -1 }), 'OFA_LOG_INVALID_ARGUMENT')
  })

  it('reads the SASL password from passwordFile (one trailing line break dropped); refuses both, or an unreadable file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-kafka-pw-'))
    try {
      const file = path.join(dir, 'password')
      fs.writeFileSync(file, 's3cret \r\n')
      const security = (sasl: object) => ({
        protocol: 'SASL_PLAINTEXT' as const,
        sasl: { mechanism: 'SCRAM-SHA-256' as const, username: 'u', ...sasl },
      })
      const o = resolveKafkaLogOptions({ bootstrapServers: 'b:9092', security: security({ passwordFile: file }) })
      assert.deepEqual(o.sasl, { mechanism: 'SCRAM-SHA-256', username: 'u', password: 's3cret ' })
      throwsCode(
        () =>
          resolveKafkaLogOptions({
            bootstrapServers: 'b:9092',
            security: security({ password: 'p', passwordFile: file }),
          }),
        'OFA_LOG_INVALID_ARGUMENT',
      )
      throwsCode(
        () => resolveKafkaLogOptions({ bootstrapServers: 'b:9092', security: security({ passwordFile: `${file}.x` }) }),
        'OFA_CONFIG_FILE',
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
