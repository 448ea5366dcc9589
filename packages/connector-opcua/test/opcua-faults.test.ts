// The OPC UA connector when the network fails: a connection that goes silent (no FIN) is noticed by the
// subscription watchdog or the session keep-alive, the device is UNAVAILABLE with a coded reason, and once the
// network is back a new session carries values again; the session left on the server expires there, so the
// server holds one session of ours in the end, not two.
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { createRecordingContext, deviceConfig, eventually } from '@openfactory/connectors/testing'
import { AttributeIds } from 'node-opcua-client'
import { type OpcuaConnector, opcuaSpec } from '../src/index.ts'
import { connectTestClient, NODES, startPrivatePeer } from './peer.ts'
import { startProxy } from './proxy.ts'

test('a silent network: UNAVAILABLE with a coded reason, then a new session; the old one expires on the server', async (t) => {
  const peer = await startPrivatePeer(t)
  const proxy = await startProxy(t, peer.endpoint)
  const observer = await connectTestClient(t, peer)
  const sessions = async () =>
    Number(
      (await observer.session.read({ nodeId: observer.nodeId(NODES.sessionCount), attributeId: AttributeIds.Value }))
        .value.value,
    )
  const count = (n: number, what: string) =>
    eventually(async () => ((await sessions()) === n ? true : undefined), 10_000, `${n} sessions: ${what}`)
  await count(1, 'the observer')

  const pkiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-pki-'))
  t.after(() => fs.rm(pkiDir, { recursive: true, force: true }))
  const spec = opcuaSpec
  const block = {
    type: 'opcua',
    server: { uri: proxy.endpoint, subscription: { publishing_interval: 50 } },
    variables: { parts: { node_id: `ns=2;s=${NODES.partCount}`, tag: 'PartCount' } },
  }
  const connector = spec.create(spec.parse(deviceConfig(block, { uuid: 'NET-1' })), {
    pkiDir,
    timings: { connectTimeoutMs: 2000, backoff: { initialMs: 100, maxMs: 500 }, sessionTimeoutMs: 4000 },
  }) as OpcuaConnector
  const ctx = createRecordingContext()
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await connector.stop()
  })
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 15_000, 'available')
  await count(2, 'the observer and ours')

  proxy.cut()
  const down = await eventually(() => ctx.availability.find((a) => a.available === false), 20_000, 'down')
  assert.match(String(down.reason), /^OFA_OPCUA_(STALLED|CONNECT): /)
  const parts = ctx.published.filter((p) => p.observation.id === 'parts').at(-1)!.observation
  assert.equal(parts.value, 'UNAVAILABLE')

  proxy.mend()
  const seen = ctx.published.length
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 20_000, 'available again')
  await eventually(
    () =>
      ctx.published.slice(seen).some((p) => p.observation.id === 'parts' && typeof p.observation.value === 'number')
        ? true
        : undefined,
    10_000,
    'values again',
  )
  // The session of before the cut could not be closed (the server was out of reach); it expires there.
  await eventually(
    async () => ((await sessions()) === 2 ? true : undefined),
    20_000,
    'one session of ours on the server',
  )
  assert.equal(connector.link!.stats.sessionsCreated, 2)
})

test('stopping every device closes the session on the server', async (t) => {
  const peer = await startPrivatePeer(t)
  const observer = await connectTestClient(t, peer)
  const sessions = async () =>
    Number(
      (await observer.session.read({ nodeId: observer.nodeId(NODES.sessionCount), attributeId: AttributeIds.Value }))
        .value.value,
    )
  const pkiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-pki-'))
  t.after(() => fs.rm(pkiDir, { recursive: true, force: true }))
  const spec = opcuaSpec
  const block = {
    type: 'opcua',
    server: { uri: peer.endpoint },
    variables: { parts: { node_id: `ns=2;s=${NODES.partCount}`, tag: 'PartCount' } },
  }
  const devices = ['STOP-A', 'STOP-B'].map((uuid) => {
    const connector = spec.create(spec.parse(deviceConfig(block, { uuid })), { pkiDir }) as OpcuaConnector
    return { connector, ctx: createRecordingContext() }
  })
  for (const d of devices) await d.connector.start(d.ctx)
  t.after(() => Promise.all(devices.map((d) => d.connector.stop())))
  await eventually(
    () => (devices.every((d) => d.ctx.availability.at(-1)?.available) ? true : undefined),
    15_000,
    'both up',
  )
  const count = (n: number, what: string) =>
    eventually(async () => ((await sessions()) === n ? true : undefined), 10_000, `${n} sessions: ${what}`)
  await count(2, 'the observer and one shared by both devices')
  await devices[0]!.connector.stop()
  await new Promise((r) => setTimeout(r, 500))
  assert.equal(await sessions(), 2, 'the other device still uses the session')
  await devices[1]!.connector.stop()
  await count(1, 'ours closed')
})
