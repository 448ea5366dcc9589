// The connector conformance suite (@openfactory/connectors/testing) for connector.type: opcua, against a private
// asyncua server behind a proxy: breaking the device silences the network (no FIN), bad data is a value the
// server marks Bad (BadSensorFailure), the method is the peer's SetSpeed.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { connectorConformance, deviceConfig } from '@openfactory/connectors/testing'
import { AttributeIds, DataType, StatusCodes } from 'node-opcua-client'
import { opcuaSpec } from '../src/index.ts'
import { connectTestClient, NODES, startPrivatePeer } from './peer.ts'
import { startProxy } from './proxy.ts'

connectorConformance({
  name: 'opcua',
  timeoutMs: 20_000,
  async setup(t) {
    const peer = await startPrivatePeer(t)
    const proxy = await startProxy(t, peer.endpoint)
    const writer = await connectTestClient(t, peer)
    const pkiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-pki-'))
    t.after(() => fs.rm(pkiDir, { recursive: true, force: true }))
    const block = {
      type: 'opcua',
      server: { uri: proxy.endpoint, subscription: { publishing_interval: 50, queue_size: 10 } },
      variables: {
        feed: { node_id: `ns=2;s=${NODES.feedOverride}`, tag: 'PathFeedrateOverride' },
        parts: { node_id: `ns=2;s=${NODES.partCount}`, tag: 'PartCount' },
      },
      methods: { machine: { node_id: `ns=2;s=${NODES.machine}` } },
    }
    const connector = opcuaSpec.create(opcuaSpec.parse(deviceConfig(block, { uuid: 'OPCUA-CONF' })), {
      pkiDir,
      timings: { connectTimeoutMs: 2000, backoff: { initialMs: 100, maxMs: 500 }, sessionTimeoutMs: 5000 },
    })
    let feed = 100
    const write = (statusCode = StatusCodes.Good) =>
      writer.session.write({
        nodeId: writer.nodeId(NODES.feedOverride),
        attributeId: AttributeIds.Value,
        value: { value: { dataType: DataType.Double, value: ++feed }, statusCode },
      })
    return {
      connector,
      assetUuid: 'OPCUA-CONF',
      method: { name: 'SetSpeed', arguments: { rpm: 1500 } },
      async produce() {
        await write()
      },
      async breakDevice() {
        proxy.cut()
      },
      async restoreDevice() {
        proxy.mend()
      },
      async sendBadData() {
        const status = await write(StatusCodes.BadSensorFailure)
        if (!status.isGood()) throw new Error(`the peer refused a Bad value: ${status.name}`)
        return 'feed'
      },
    }
  },
})
