// The MQTT connector's TLS and passwords against Debian's Mosquitto started with a TLS listener (a development CA
// made by scripts/test-certs.ts), one that requires a client certificate (mutual TLS), or a password file (hashed by
// Debian's mosquitto_passwd, anonymous clients refused): it reads over mqtts:// with the CA pinned, with a client
// certificate and with a user and password; a broker signed by another CA, no client certificate or one of another
// CA, and a wrong password are refused with OFA_MQTT_CONNECT saying why, and the password and the private key are in
// no error, reason or log line (ours or the broker's).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
} from '@openfactory/connectors/testing'
import { OpenFactoryError } from '@openfactory/model'
import { makeCertificates } from '../../../scripts/test-certs.ts'
import { MqttConnector, parseMqttDevice } from '../src/index.ts'
import { type Broker, mosquittoPub, privateBroker, uniqueTopic } from './broker.ts'

const TIMINGS = { backoff: { initialMs: 100, maxMs: 500 }, connectTimeoutMs: 2000 }
const USER = 'ofa-line-3'
const PASSWORD = 'Tr0ub4dor-synthetic-7731'
const WRONG_PASSWORD = 'wrong-Pa55-synthetic-4410'

function connector(url: string, uuid: string, block: Record<string, unknown>): MqttConnector {
  const config = parseMqttDevice(deviceConfig({ type: 'mqtt', url, ...block }, { uuid }))
  return new MqttConnector(config, { timings: TIMINGS })
}

function stopAfter(t: TestContext, c: MqttConnector, ctx: RecordingContext): void {
  t.after(async () => {
    ctx.controller.abort()
    await c.stop()
  })
}

/** Starts `c`, waits until its asset is AVAILABLE, publishes two values with mosquitto_pub and waits for them. */
async function reads(
  t: TestContext,
  broker: Broker,
  c: MqttConnector,
  topic: string,
  pub: { username?: string; password?: string } = {},
): Promise<void> {
  const ctx = createRecordingContext()
  stopAfter(t, c, ctx)
  await c.start(ctx)
  await eventually(() => (ctx.availability.at(-1)?.available ? true : undefined), 10_000, 'AVAILABLE')
  await mosquittoPub(broker, topic, ['1.5', '2.5'], pub)
  const values = await eventually(
    () => {
      const v = ctx.published.filter((p) => p.observation.id === 'load').map((p) => p.observation.value)
      return v.length === 2 ? v : undefined
    },
    10_000,
    'load observations',
  )
  assert.deepEqual(values, [1.5, 2.5])
}

/** Starts `c` and expects its refusal: OFA_MQTT_CONNECT, `why` in the error and in the asset's avail reason. */
async function refused(t: TestContext, c: MqttConnector, uuid: string, why: RegExp): Promise<RecordingContext> {
  const ctx = createRecordingContext()
  stopAfter(t, c, ctx)
  const err = await c.start(ctx).then(
    () => assert.fail('the connector started'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof OpenFactoryError, String(err))
  assert.equal(err.code, 'OFA_MQTT_CONNECT')
  assert.match(err.message, why)
  const avail = ctx.availability.at(-1)
  assert.equal(avail?.uuid, uuid)
  assert.equal(avail?.available, false)
  assert.match(String(avail?.reason), /^OFA_MQTT_CONNECT: /)
  assert.match(String(avail?.reason), why)
  return ctx
}

test('mqtts:// with the CA pinned reads; a broker signed by another CA is refused, saying why', async (t) => {
  const broker = await privateBroker(t, { tls: true })
  assert.match(broker.url, /^mqtts:\/\/127\.0\.0\.1:\d+$/)
  const base = uniqueTopic()
  const topics = { load: { topic: `${base}/load`, tag: 'Load' } }
  await reads(t, broker, connector(broker.url, 'MQTT-TLS', { tls: { ca: broker.ca }, topics }), `${base}/load`)

  // Another development CA: the broker's certificate does not chain to it.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-mqtt-ca-'))
  t.after(() => fs.rmSync(other, { recursive: true, force: true }))
  const wrongCa = makeCertificates(other).ca
  await refused(
    t,
    connector(broker.url, 'MQTT-TLS-WRONG-CA', { tls: { ca: wrongCa }, topics }),
    'MQTT-TLS-WRONG-CA',
    /certificate/,
  )
  // No CA pinned: the system's CAs do not know ours either.
  await refused(t, connector(broker.url, 'MQTT-TLS-NO-CA', { topics }), 'MQTT-TLS-NO-CA', /certificate/)
})

test('mutual TLS: a client certificate signed by the CA connects; none, or one from another CA, is refused saying why', async (t) => {
  // Mosquitto with require_certificate true: only clients showing a certificate signed by its CA get in.
  const broker = await privateBroker(t, { requireCertificate: true })
  assert.match(broker.url, /^mqtts:\/\//)
  const base = uniqueTopic()
  const topics = { load: { topic: `${base}/load`, tag: 'Load' } }
  for (const version of [5, 4]) {
    const tls = { ca: broker.ca, cert: broker.clientCert, key: broker.clientKey }
    const c = connector(broker.url, `MQTT-MTLS-${version}`, { protocol_version: version, tls, topics })
    await reads(t, broker, c, `${base}/load`)
  }

  // No client certificate: the broker ends the handshake (TLS 1.3 alert 116, certificate required).
  await refused(
    t,
    connector(broker.url, 'MQTT-MTLS-NONE', { tls: { ca: broker.ca }, topics }),
    'MQTT-MTLS-NONE',
    /the broker requires a client certificate \(tls\.cert and tls\.key\): .*certificate required/,
  )
  // A client certificate of another CA: the broker does not know its issuer.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-mqtt-ca-'))
  t.after(() => fs.rmSync(other, { recursive: true, force: true }))
  const foreign = makeCertificates(other)
  const ctx = await refused(
    t,
    connector(broker.url, 'MQTT-MTLS-FOREIGN', {
      tls: { ca: broker.ca, cert: foreign.clientCert, key: foreign.clientKey },
      topics,
    }),
    'MQTT-MTLS-FOREIGN',
    /the broker does not trust the CA that signed our client certificate \(tls\.cert\): .*unknown ca/,
  )
  // No part of the private key is in a reason, a log line or the broker's log.
  const texts = [
    JSON.stringify(ctx.availability),
    JSON.stringify(ctx.logs),
    fs.readFileSync(broker.log as string, 'utf8'),
  ]
  for (const line of fs.readFileSync(foreign.clientKey, 'utf8').split('\n').slice(1, -2)) {
    for (const text of texts) assert.ok(!text.includes(line), 'a line of the private key leaked')
  }
})

test('a user and password are accepted (MQTT 5 and 3.1.1, plain and over TLS)', async (t) => {
  const broker = await privateBroker(t, { users: { [USER]: PASSWORD } })
  const tlsBroker = await privateBroker(t, { tls: true, users: { [USER]: PASSWORD } })
  const login = { username: USER, password: PASSWORD }
  for (const [b, version] of [
    [broker, 5],
    [broker, 4],
    [tlsBroker, 5],
  ] as const) {
    const base = uniqueTopic()
    const block = {
      ...login,
      protocol_version: version,
      ...(b.ca ? { tls: { ca: b.ca } } : {}),
      topics: { load: { topic: `${base}/load`, tag: 'Load' } },
    }
    await reads(t, b, connector(b.url, `MQTT-LOGIN-${version}`, block), `${base}/load`, login)
  }
})

test('a wrong password or none is refused with OFA_MQTT_CONNECT; the password is in no error or log line', async (t) => {
  const broker = await privateBroker(t, { users: { [USER]: PASSWORD } })
  const port = new URL(broker.url).port
  const topics = { load: { topic: `${uniqueTopic()}/load`, tag: 'Load' } }
  const texts: string[] = []
  const keep = (ctx: RecordingContext): void => {
    texts.push(JSON.stringify(ctx.availability), JSON.stringify(ctx.logs), JSON.stringify(ctx.published))
  }
  for (const version of [5, 4]) {
    const uuid = `MQTT-WRONG-PW-${version}`
    const block = { username: USER, password: WRONG_PASSWORD, protocol_version: version, topics }
    const ctx = await refused(t, connector(broker.url, uuid, block), uuid, /not authori[sz]ed/i)
    keep(ctx)
  }
  // The password in the URL's user info (mqtt.js reads it from there): the URL in the error hides it.
  const inUrl = `mqtt://${USER}:${WRONG_PASSWORD}@127.0.0.1:${port}`
  const ctx = await refused(
    t,
    connector(inUrl, 'MQTT-WRONG-PW-URL', { topics }),
    'MQTT-WRONG-PW-URL',
    /not authori[sz]ed/i,
  )
  keep(ctx)
  // No user at all: anonymous clients are refused.
  keep(await refused(t, connector(broker.url, 'MQTT-ANONYMOUS', { topics }), 'MQTT-ANONYMOUS', /not authori[sz]ed/i))

  const errors = await Promise.all(
    [broker.url, inUrl].map((url) => {
      const c = connector(url, 'MQTT-WRONG-PW-ERR', { username: USER, password: WRONG_PASSWORD, topics })
      const errCtx = createRecordingContext()
      stopAfter(t, c, errCtx)
      return c.start(errCtx).catch((e: unknown) => e as Error)
    }),
  )
  for (const e of errors) texts.push(String(e), (e as Error).stack ?? '', JSON.stringify(e))
  texts.push(fs.readFileSync(broker.log as string, 'utf8'))
  for (const text of texts) {
    assert.ok(!text.includes(WRONG_PASSWORD), `the wrong password leaked: ${text}`)
    assert.ok(!text.includes(PASSWORD), `the password leaked: ${text}`)
  }
  assert.match(texts.at(-1) as string, new RegExp(`${USER}|not authorised`))
})
