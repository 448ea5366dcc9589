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
import { AttributeIds, DataType } from 'node-opcua-client'
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

test('the server’s namespaces change: the nodes are resolved again on the same session, values go on', async (t) => {
  const peer = await startPrivatePeer(t)
  const client = await connectTestClient(t, peer)
  const pkiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-pki-'))
  t.after(() => fs.rm(pkiDir, { recursive: true, force: true }))
  const block = {
    type: 'opcua',
    server: { uri: peer.endpoint, subscription: { publishing_interval: 50 } },
    variables: {
      // by browse path: the namespace index in it is resolved against the server's array at each setup
      parts: { browse_path: `0:Root/0:Objects/${client.ns}:Machine/${client.ns}:PartCount`, tag: 'PartCount' },
    },
  }
  const connector = opcuaSpec.create(opcuaSpec.parse(deviceConfig(block, { uuid: 'NS-1' })), {
    pkiDir,
    timings: { connectTimeoutMs: 2000, backoff: { initialMs: 100, maxMs: 500 } },
  }) as OpcuaConnector
  const ctx = createRecordingContext()
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await connector.stop()
  })
  const partsAfter = (from: number) =>
    eventually(
      () =>
        ctx.published.slice(from).some((p) => p.observation.id === 'parts' && typeof p.observation.value === 'number')
          ? true
          : undefined,
      15_000,
      'PartCount values',
    )
  await partsAfter(0)

  const result = await client.session.call({
    objectId: client.nodeId(NODES.peer),
    methodId: client.nodeId(NODES.addNamespace),
    inputArguments: [{ dataType: DataType.String, value: `urn:openfactory:test:added:${process.pid}` }],
  })
  assert.ok(result.statusCode.isGood(), result.statusCode.name)
  await eventually(
    () => ctx.logs.find((l) => l.level === 'warn' && /namespaces changed/.test(l.message)),
    15_000,
    'the change noticed',
  )
  const seen = ctx.published.length
  await partsAfter(seen)
  // Set up again once (node-opcua keeps a session's first NamespaceArray: read as it was, the change looped), on
  // the session it had: none created, none lost.
  assert.equal(ctx.logs.filter((l) => /namespaces changed/.test(l.message)).length, 1)
  assert.equal(connector.link!.stats.sessionsCreated, 1)
  assert.equal(ctx.availability.filter((a) => !a.available).length, 0)
})
