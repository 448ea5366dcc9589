// The OPC UA test peer (asyncua, scripts/opcua.ts) as node-opcua's client sees it: every capability the OPC UA
// connector will rely on — read, subscribe, write, call, events, a secured channel with a user, a server restart —
// checked once against the real server, before any connector code depends on it.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { eventually } from '@openfactory/connectors/testing'
import {
  AttributeIds,
  type ClientMonitoredItem,
  type ClientSubscription,
  constructEventFilter,
  DataType,
  type DataValue,
  MessageSecurityMode,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  type Variant,
} from 'node-opcua-client'
import {
  connectTestClient,
  NODES,
  opcuaPeer,
  opcuaSecurePeer,
  restartPeer,
  startPrivatePeer,
  stopPeer,
  type TestClient,
} from './peer.ts'

const TIMEOUT = 60_000

async function subscribe(t: TestContext, c: TestClient): Promise<ClientSubscription> {
  const subscription = await c.session.createSubscription2({
    requestedPublishingInterval: 100,
    requestedLifetimeCount: 600,
    requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 1000,
    publishingEnabled: true,
    priority: 1,
  })
  t.after(() => subscription.terminate())
  return subscription
}

/** Values of a monitored variable as they arrive. */
async function monitorValues(subscription: ClientSubscription, nodeId: string): Promise<DataValue[]> {
  const item: ClientMonitoredItem = await subscription.monitor(
    { nodeId, attributeId: AttributeIds.Value },
    { samplingInterval: 100, discardOldest: true, queueSize: 10 },
    TimestampsToReturn.Both,
  )
  const seen: DataValue[] = []
  item.on('changed', (dv: DataValue) => seen.push(dv))
  return seen
}

test('the plain OPC UA peer: read, subscribe, write, call, events', { timeout: TIMEOUT }, async (t) => {
  const peer = await opcuaPeer()
  const c = await connectTestClient(t, peer)

  await t.test('reads the machine variables with their types', async () => {
    const [speed, count, execution, door] = await c.session.read(
      [NODES.spindleSpeed, NODES.partCount, NODES.execution, NODES.doorOpen].map((n) => ({
        nodeId: c.nodeId(n),
        attributeId: AttributeIds.Value,
      })),
    )
    for (const dv of [speed, count, execution, door]) assert.equal(dv!.statusCode.isGood(), true, dv!.toString())
    assert.equal(speed!.value.dataType, DataType.Double)
    assert.equal(count!.value.dataType, DataType.UInt32)
    assert.equal(execution!.value.dataType, DataType.String)
    assert.ok(['READY', 'ACTIVE', 'INTERRUPTED', 'STOPPED'].includes(execution!.value.value))
    assert.equal(door!.value.dataType, DataType.Boolean)
  })

  await t.test('a subscription sees the spindle speed change', async (t) => {
    const subscription = await subscribe(t, c)
    const seen = await monitorValues(subscription, c.nodeId(NODES.spindleSpeed))
    const distinct = await eventually(
      () => {
        const values = new Set(seen.map((dv) => dv.value.value as number))
        return values.size >= 2 ? values : undefined
      },
      20_000,
      'two different spindle speeds',
    )
    for (const v of distinct) assert.equal(typeof v, 'number')
  })

  await t.test('writes the writable variable and reads it back', async () => {
    const nodeId = c.nodeId(NODES.feedOverride)
    const [access] = await c.session.read([
      { nodeId, attributeId: AttributeIds.AccessLevel },
      { nodeId, attributeId: AttributeIds.UserAccessLevel },
    ])
    assert.equal((access!.value.value as number) & 0x03, 0x03, 'AccessLevel has CurrentRead and CurrentWrite')
    const value = 87.5 + Math.random()
    const status = await c.session.write({
      nodeId,
      attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType.Double, value } },
    })
    assert.equal(status.isGood(), true, status.toString())
    const back = await c.session.read({ nodeId, attributeId: AttributeIds.Value })
    assert.equal(back.value.value, value)
  })

  await t.test('a read-only variable refuses a write', async () => {
    const status = await c.session.write({
      nodeId: c.nodeId(NODES.partCount),
      attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType.UInt32, value: 7 } },
    })
    assert.equal(status.isGood(), false, status.toString())
  })

  await t.test('calls SetSpeed and gets its output argument', async () => {
    const result = await c.session.call({
      objectId: c.nodeId(NODES.machine),
      methodId: c.nodeId(NODES.setSpeed),
      inputArguments: [{ dataType: DataType.Double, value: 1500 }],
    })
    assert.equal(result.statusCode.isGood(), true, result.statusCode.toString())
    assert.equal(result.outputArguments?.length, 1)
    assert.equal(result.outputArguments![0]!.dataType, DataType.Double)
    assert.equal(result.outputArguments![0]!.value, 1500)
    const args = await c.session.getArgumentDefinition(c.nodeId(NODES.setSpeed))
    assert.deepEqual(
      args.inputArguments.map((a) => a.name),
      ['rpm'],
    )
    assert.deepEqual(
      args.outputArguments.map((a) => a.name),
      ['rpm'],
    )
  })

  await t.test('SetSpeed with a negative speed returns a Bad status', async () => {
    const result = await c.session.call({
      objectId: c.nodeId(NODES.machine),
      methodId: c.nodeId(NODES.setSpeed),
      inputArguments: [{ dataType: DataType.Double, value: -1 }],
    })
    assert.equal(result.statusCode.isGood(), false)
    assert.equal(result.statusCode.value, StatusCodes.BadOutOfRange.value, result.statusCode.toString())
  })

  await t.test('receives events with a severity and a message', async (t) => {
    const subscription = await subscribe(t, c)
    const fields = ['EventId', 'SourceName', 'Message', 'Severity', 'Time']
    const item = await subscription.monitor(
      { nodeId: c.nodeId(NODES.machine), attributeId: AttributeIds.EventNotifier },
      { samplingInterval: 0, discardOldest: true, queueSize: 100, filter: constructEventFilter(fields) },
      TimestampsToReturn.Both,
    )
    const events: Variant[][] = []
    item.on('changed', (values: unknown) => events.push(values as Variant[]))
    const [event] = await eventually(() => (events.length > 0 ? events : undefined), 20_000, 'an event')
    const byName = Object.fromEntries(fields.map((f, i) => [f, event![i]!.value]))
    assert.equal(byName.SourceName, 'Machine')
    assert.equal(typeof byName.Severity, 'number')
    assert.ok(byName.Severity >= 1 && byName.Severity <= 1000, String(byName.Severity))
    assert.match(String(byName.Message?.text), /synthetic machine event \d+/)
  })
})

test('the secured OPC UA peer: Basic256Sha256 SignAndEncrypt with a user', { timeout: TIMEOUT }, async (t) => {
  const peer = await opcuaSecurePeer()
  assert.ok(peer.user, 'the secured peer has a user')
  const c = await connectTestClient(t, peer)
  assert.equal(c.client.securityMode, MessageSecurityMode.SignAndEncrypt)
  assert.equal(c.client.securityPolicy, SecurityPolicy.Basic256Sha256)
  const [speed] = await c.session.read([{ nodeId: c.nodeId(NODES.spindleSpeed), attributeId: AttributeIds.Value }])
  assert.equal(speed!.statusCode.isGood(), true, speed!.toString())
  assert.equal(speed!.value.dataType, DataType.Double)

  await t.test('a wrong password is refused', async (t) => {
    await assert.rejects(
      connectTestClient(t, { ...peer, user: { userName: peer.user!.userName, password: 'wrong' } }),
      /BadUserAccessDenied/,
    )
  })
})

test('a client reconnects after the peer stops and starts again', { timeout: TIMEOUT }, async (t) => {
  const peer = await startPrivatePeer(t, 'none')
  const c = await connectTestClient(t, peer)
  const nodeId = c.nodeId(NODES.partCount)
  const before = await c.session.read({ nodeId, attributeId: AttributeIds.Value })
  assert.equal(before.statusCode.isGood(), true)

  const lost = new Promise<void>((resolve) => c.client.once('connection_lost', () => resolve()))
  const back = new Promise<void>((resolve) => c.client.once('connection_reestablished', () => resolve()))
  await stopPeer(peer)
  await lost
  await restartPeer(peer)
  await back
  // The server forgot the session: the client makes a new one behind the same ClientSession; reads work again.
  const after = await eventually(
    async () => {
      const dv = await c.session.read({ nodeId, attributeId: AttributeIds.Value }).catch(() => undefined)
      return dv?.statusCode.isGood() ? dv : undefined
    },
    30_000,
    'a good read after the restart',
  )
  assert.equal(after.value.dataType, DataType.UInt32)
})
