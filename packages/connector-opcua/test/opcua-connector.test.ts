// The OPC UA connector against a real OPC UA server (asyncua, scripts/peers/opcua_server.py): variables,
// constants, events, methods and writes, node errors, and recovery when the server restarts.
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { connectorSpec } from '@openfactory/connectors'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
} from '@openfactory/connectors/testing'
import type { CommandEnvelope, Observation } from '@openfactory/model'
import { listCertificates, type OpcuaConnector, openLinks, trustCertificate } from '../src/index.ts'
import { NODES, type OpcuaPeer, opcuaPeer, opcuaSecurePeer, restartPeer, startPrivatePeer, stopPeer } from './peer.ts'

const FAST = { connectTimeoutMs: 3000, backoff: { initialMs: 100, maxMs: 500 } }

async function tempPki(t: TestContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-pki-'))
  t.after(() => fs.rm(dir, { recursive: true, force: true }))
  return dir
}

/** The device block of the peer's machine, as a user would write it (ns=2: the peer's namespace). */
function machineBlock(peer: OpcuaPeer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'opcua',
    server: { uri: peer.endpoint, subscription: { publishing_interval: 50, queue_size: 10, sampling_interval: 0 } },
    variables: {
      spindle: { node_id: `ns=2;s=${NODES.spindleSpeed}`, tag: 'RotaryVelocity' },
      parts: { browse_path: '0:Root/0:Objects/2:Machine/2:PartCount', tag: 'PartCount' },
      execution: { node_id: `ns=2;s=${NODES.execution}`, tag: 'Execution' },
      door: { node_id: `ns=2;s=${NODES.doorOpen}`, tag: 'DoorState' },
      feed: { node_id: `ns=2;s=${NODES.feedOverride}`, tag: 'PathFeedrateOverride', access_level: 'rw' },
    },
    events: { alarms: { node_id: `ns=2;s=${NODES.machine}` } },
    methods: { machine: { browse_path: '0:Root/0:Objects/2:Machine' } },
    ...extra,
  }
}

async function startDevice(
  t: TestContext,
  block: Record<string, unknown>,
  uuid = 'MACHINE-1',
  pkiDir?: string,
): Promise<{ ctx: RecordingContext; connector: OpcuaConnector }> {
  const spec = connectorSpec('opcua')!
  pkiDir ??= await tempPki(t)
  const connector = spec.create(spec.parse(deviceConfig(block, { uuid })), { pkiDir, timings: FAST }) as OpcuaConnector
  const ctx = createRecordingContext()
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await connector.stop()
  })
  return { ctx, connector }
}

const valuesOf = (ctx: RecordingContext, id: string): Observation[] =>
  ctx.published.filter((p) => p.observation.id === id).map((p) => p.observation)

function command(method: string, args: Record<string, unknown>): CommandEnvelope {
  return { header: { correlation_id: `c-${method}`, sender: 'test' }, arguments: args } as unknown as CommandEnvelope
}

test('variables stream as Samples and Events, with methods and a writable variable declared', async (t) => {
  const peer = await opcuaPeer()
  const { ctx } = await startDevice(t, machineBlock(peer))
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 15_000, 'available')
  const asset = ctx.declared.at(-1)!
  const items = Object.fromEntries(asset.dataItems.map((d) => [d.id, d.category]))
  assert.deepEqual(items, {
    spindle: 'Samples',
    parts: 'Samples',
    execution: 'Events',
    door: 'Events',
    feed: 'Samples',
    alarms: 'Condition',
  })
  assert.deepEqual(asset.methods.map((m) => m.name).sort(), ['SetSpeed', 'set_feed'])
  const setSpeed = asset.methods.find((m) => m.name === 'SetSpeed')!
  assert.deepEqual(
    setSpeed.arguments.map((a) => [a.name, a.required]),
    [['rpm', true]],
  )

  const parts = await eventually(
    () => {
      const v = valuesOf(ctx, 'parts').filter((o) => typeof o.value === 'number')
      return v.length >= 3 ? v : undefined
    },
    10_000,
    'three part counts',
  )
  for (let i = 1; i < parts.length; i++) assert.ok((parts[i]!.value as number) > (parts[i - 1]!.value as number))
  assert.equal(parts[0]!.attributes.quality, 'GOOD')
  assert.match(parts[0]!.attributes.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const execution = await eventually(() => valuesOf(ctx, 'execution').find((o) => o.value !== 'UNAVAILABLE'))
  assert.ok(['READY', 'ACTIVE', 'INTERRUPTED', 'STOPPED'].includes(execution.value as string))
  const door = await eventually(() => valuesOf(ctx, 'door').find((o) => o.value !== 'UNAVAILABLE'))
  assert.ok(door.value === 'true' || door.value === 'false')

  const event = await eventually(
    () => valuesOf(ctx, 'alarms').find((o) => o.value !== 'UNAVAILABLE'),
    10_000,
    'an event',
  )
  assert.equal(event.type, 'Condition')
  assert.ok(['NORMAL', 'WARNING', 'FAULT'].includes(event.value as string))
  assert.match(String(event.attributes.nativeSeverity), /^\d+$/)
  assert.equal(typeof event.attributes.message, 'string')
})

test('a method call and a write reach the server; a refused call fails with the status name', async (t) => {
  const peer = await opcuaPeer()
  const { ctx, connector } = await startDevice(t, machineBlock(peer), 'MACHINE-CMD')
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 15_000, 'available')
  const result = await connector.execute({
    assetUuid: 'MACHINE-CMD',
    method: 'SetSpeed',
    arguments: { rpm: '1200' },
    envelope: command('SetSpeed', { rpm: '1200' }),
  })
  assert.deepEqual(result, { rpm: 1200 })
  await assert.rejects(
    connector.execute({
      assetUuid: 'MACHINE-CMD',
      method: 'SetSpeed',
      arguments: { rpm: -5 },
      envelope: command('SetSpeed', {}),
    }),
    (err: Error & { code?: string }) => err.code === 'OFA_COMMAND_FAILED' && /BadOutOfRange/.test(err.message),
  )
  await assert.rejects(
    connector.execute({
      assetUuid: 'MACHINE-CMD',
      method: 'SetSpeed',
      arguments: { rpm: 'fast' },
      envelope: command('SetSpeed', {}),
    }),
    (err: Error & { code?: string }) => err.code === 'OFA_COMMAND_REJECTED' && /rpm/.test(err.message),
  )
  const written = await connector.execute({
    assetUuid: 'MACHINE-CMD',
    method: 'set_feed',
    arguments: { value: 87.5 },
    envelope: command('set_feed', { value: 87.5 }),
  })
  assert.deepEqual(written, { value: 87.5 })
  await eventually(() => valuesOf(ctx, 'feed').find((o) => o.value === 87.5), 10_000, 'the written value back')
  await connector.execute({
    assetUuid: 'MACHINE-CMD',
    method: 'set_feed',
    arguments: { value: 100 },
    envelope: command('set_feed', {}),
  })
})

test('a wrong node id or browse path is a coded error naming the entry; the other variables still run', async (t) => {
  const peer = await opcuaPeer()
  const block = machineBlock(peer)
  const variables = {
    ...(block.variables as Record<string, unknown>),
    ghost: { node_id: 'ns=2;s=Machine.NoSuchThing', tag: 'Ghost' },
    lost: { browse_path: '0:Root/0:Objects/2:Machine/2:Nowhere', tag: 'Lost' },
  }
  const { ctx } = await startDevice(t, { ...block, variables }, 'MACHINE-BAD')
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 15_000, 'available')
  const errors = ctx.logs.filter((l) => l.level === 'error').map((l) => l.message)
  assert.ok(
    errors.some(
      (m) => m.includes('devices.MACHINE-BAD.connector.variables.ghost') && m.includes('Machine.NoSuchThing'),
    ),
    errors.join('\n'),
  )
  assert.ok(
    errors.some((m) => m.includes('variables.lost') && m.includes('Nowhere')),
    errors.join('\n'),
  )
  const ghost = valuesOf(ctx, 'ghost').at(-1)!
  assert.equal(ghost.value, 'UNAVAILABLE')
  assert.match(String(ghost.attributes.reason), /ghost/)
  await eventually(() => valuesOf(ctx, 'parts').find((o) => typeof o.value === 'number'), 10_000, 'parts still running')
})

test('devices naming the same server share one session', async (t) => {
  const peer = await opcuaPeer()
  const pki = await tempPki(t)
  const a = await startDevice(t, machineBlock(peer), 'SHARED-A', pki)
  const b = await startDevice(t, machineBlock(peer), 'SHARED-B', pki)
  await eventually(() =>
    a.ctx.availability.at(-1)?.available && b.ctx.availability.at(-1)?.available ? true : undefined,
  )
  assert.equal(a.connector.link, b.connector.link)
  assert.equal(a.connector.link!.stats.sessionsCreated, 1)
})

test('a server restart: UNAVAILABLE with a coded reason, then a new session, values again, one session at a time', async (t) => {
  const peer = await startPrivatePeer(t)
  const { ctx, connector } = await startDevice(t, machineBlock(peer), 'MACHINE-RESTART')
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 15_000, 'available')
  await stopPeer(peer)
  const down = await eventually(() => ctx.availability.find((a) => a.available === false), 10_000, 'down')
  assert.match(String(down.reason), /^OFA_OPCUA_CONNECT/)
  const seen = ctx.published.length
  await restartPeer(peer)
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 20_000, 'available again')
  await eventually(
    () =>
      ctx.published.slice(seen).some((p) => p.observation.id === 'parts' && typeof p.observation.value === 'number')
        ? true
        : undefined,
    10_000,
    'values after the restart',
  )
  const stats = connector.link!.stats
  assert.equal(stats.sessionsCreated, 2)
  assert.ok(openLinks().includes(connector.link!))
})

test('a secured server: refused until its certificate is trusted, then SignAndEncrypt with a user', async (t) => {
  const peer = await opcuaSecurePeer()
  const pki = await tempPki(t)
  const block = {
    type: 'opcua',
    server: {
      uri: peer.endpoint,
      security: { mode: 'SignAndEncrypt', policy: 'Basic256Sha256' },
      user: { name: peer.user!.userName, password: peer.user!.password },
    },
    variables: { parts: { node_id: `ns=2;s=${NODES.partCount}`, tag: 'PartCount' } },
  }
  const { ctx } = await startDevice(t, block, 'SECURE-1', pki)
  const refused = await eventually(() => ctx.availability.find((a) => a.available === false), 15_000, 'refused')
  assert.match(String(refused.reason), /^OFA_OPCUA_SECURITY: .*ofa opcua certs/)
  const rejected = await eventually(
    async () => {
      const certs = await listCertificates(pki)
      return certs.find((c) => c.status === 'rejected')
    },
    10_000,
    'the certificate in rejected/',
  )
  await trustCertificate(pki, rejected.thumbprint.slice(0, 12))
  await eventually(
    () => (ctx.availability.at(-1)?.available === true ? true : undefined),
    20_000,
    'available once trusted',
  )
  await eventually(() => valuesOf(ctx, 'parts').find((o) => typeof o.value === 'number'), 10_000, 'values')
})

test('a wrong password is a coded error on avail, retried', async (t) => {
  const peer = await opcuaSecurePeer()
  const pki = await tempPki(t)
  await trustCertificate(pki, await fs.readFile(peer.serverCertificate!).then(() => peer.serverCertificate!))
  const block = {
    type: 'opcua',
    server: {
      uri: peer.endpoint,
      security: { mode: 'SignAndEncrypt' },
      user: { name: peer.user!.userName, password: 'wrong' },
    },
    variables: { parts: { node_id: `ns=2;s=${NODES.partCount}`, tag: 'PartCount' } },
  }
  const { ctx } = await startDevice(t, block, 'SECURE-2', pki)
  const refused = await eventually(() => ctx.availability.find((a) => a.available === false), 15_000, 'refused')
  assert.match(String(refused.reason), /^OFA_OPCUA_CONNECT: .*(user|Bad)/)
})
