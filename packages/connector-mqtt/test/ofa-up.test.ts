// `ofa up` with an MQTT device, as a user runs it (packages/cli/bin/ofa.js, its own process group), against Debian's
// Mosquitto fed by Debian's mosquitto_pub: sensors named by a topic level become assets the HTTP API lists, and the
// messages the connector drops (one sensor past `assets.max`, a flood past `max_messages_per_s`) are counted on
// /metrics as ofa_connector_messages_dropped_total{connector,reason}.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { eventually, getJson, startOfa, tempDir } from '../../cli/test/helpers.ts'
import { mosquittoPub, sharedBroker, uniqueTopic } from './broker.ts'

test('ofa up: assets named by a topic level are served, and the drops are counted on /metrics', {
  timeout: 120_000,
}, async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const dir = await tempDir(t, 'ofa-mqtt-up-')
  await writeFile(join(dir, 'factory.yaml'), 'name: mqtt-up\nbackbone:\n  type: embedded\n  dataDir: data\n')
  await mkdir(join(dir, 'devices'))
  await writeFile(
    join(dir, 'devices', 'sensors.yml'),
    `devices:
  gateway:
    uuid: MQTT-UP-GW
    connector:
      type: mqtt
      url: ${broker.url}
      client_id: ofa-up-${process.pid}
      max_messages_per_s: 5
      topics:
        temperature: { topic: "${base}/{asset}/temperature", tag: Temperature, payload: raw }
      assets: { uuid: "UP-{asset}", max: 2 }
`,
  )
  const up = startOfa(t, ['up', dir, '--port', '0', '--data', join(dir, 'data')], {})
  const url = await up.url
  await eventually(
    async () => {
      const body = await getJson(`${url}/api/assets`)
      return body.items.some(
        (a: { uuid: string; availability: string }) => a.uuid === 'MQTT-UP-GW' && a.availability === 'AVAILABLE',
      )
        ? true
        : undefined
    },
    'the gateway AVAILABLE',
    60_000,
  )

  await mosquittoPub(broker, `${base}/s1/temperature`, ['21'])
  await mosquittoPub(broker, `${base}/s2/temperature`, ['22'])
  // One sensor past assets.max (3 messages), and a flood of one sensor (200 within far less than 200 s).
  await mosquittoPub(broker, `${base}/s3/temperature`, ['1', '2', '3'])
  await mosquittoPub(
    broker,
    `${base}/s1/temperature`,
    Array.from({ length: 200 }, (_, i) => String(i)),
  )
  await eventually(
    async () => {
      const body = await getJson(`${url}/api/assets`)
      const uuids = body.items.map((a: { uuid: string }) => a.uuid).sort()
      return uuids.includes('UP-s1') && uuids.includes('UP-s2') ? uuids : undefined
    },
    'the sensors as assets',
    30_000,
  )
  const text = await eventually(
    async () => {
      const m = await (await fetch(`${url}/metrics`)).text()
      return /ofa_connector_messages_dropped_total\{connector="MQTT-UP-GW",reason="flood"\} [1-9]/.test(m) &&
        /ofa_connector_messages_dropped_total\{connector="MQTT-UP-GW",reason="asset_limit"\} 3$/m.test(m)
        ? m
        : undefined
    },
    'the drops on /metrics',
    30_000,
  )
  assert.match(text, /^# TYPE ofa_connector_messages_dropped_total counter$/m)
  const flood = Number(/reason="flood"\} (\d+)$/m.exec(text)?.[1])
  // Its first second took 5 (4 of the flood when s1's first value fell in the same second): at most 196 dropped.
  assert.ok(flood > 0 && flood <= 200 - 4, `flood drops ${flood}`)
  const assets = (await getJson(`${url}/api/assets`)).items.map((a: { uuid: string }) => a.uuid)
  assert.ok(!assets.includes('UP-s3'), 'no asset past assets.max')
})
