// The OPC UA server of bench/opcua-ingest.ts, run as a child process (its own event loop and process group, apart
// from the client being measured): node-opcua's server with N Double variables `ns=1;s=V<i>` under Objects/Bench,
// every one given a new value every PERIOD ms (setValueFromSource: the server's monitored items see a change at
// once, sampling interval 0). Security None, anonymous. Prints `ready <endpoint>` once it serves; SIGTERM stops it.
//   npx node bench/lib/opcua-bench-server.ts <port> <variables> <period ms> <pki folder>
import type { UAVariable } from 'node-opcua-address-space-base'
import { OPCUACertificateManager } from 'node-opcua-certificate-manager'
import { DataType } from 'node-opcua-client'
import { OPCUAServer } from 'node-opcua-server'

const [port, count, periodMs, pki] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  Number(process.argv[4]),
  process.argv[5],
]
if (!port || !count || !periodMs || !pki) {
  console.error('usage: opcua-bench-server.ts <port> <variables> <period ms> <pki folder>')
  process.exit(2)
}

const limit = 1_000_000
const server = new OPCUAServer({
  port,
  hostname: '127.0.0.1',
  resourcePath: '/bench',
  allowAnonymous: true,
  serverCertificateManager: new OPCUACertificateManager({
    rootFolder: pki,
    automaticallyAcceptUnknownCertificate: true,
  }),
  serverCapabilities: {
    maxSessions: 10,
    maxSubscriptions: 100,
    maxMonitoredItems: limit,
    maxMonitoredItemsPerSubscription: limit,
    operationLimits: {
      maxMonitoredItemsPerCall: limit,
      maxNodesPerRead: limit,
      maxNodesPerBrowse: limit,
      maxNodesPerTranslateBrowsePathsToNodeIds: limit,
      maxNodesPerWrite: limit,
      maxNodesPerMethodCall: limit,
    },
  },
})
await server.initialize()
const addressSpace = server.engine.addressSpace
if (!addressSpace) throw new Error('no address space')
const ns = addressSpace.getOwnNamespace()
const folder = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'Bench' })
const variables: UAVariable[] = []
for (let i = 0; i < count; i++) {
  variables.push(
    ns.addVariable({
      componentOf: folder,
      browseName: `V${i}`,
      nodeId: `s=V${i}`,
      dataType: 'Double',
      value: { dataType: DataType.Double, value: 0 },
    }),
  )
}
let tick = 0
const timer = setInterval(() => {
  tick++
  for (let i = 0; i < variables.length; i++) {
    ;(variables[i] as UAVariable).setValueFromSource({ dataType: DataType.Double, value: tick * 1000 + i })
  }
}, periodMs)
await server.start()
console.log(`ready ${server.getEndpointUrl()}`)

const shutdown = async (): Promise<void> => {
  clearInterval(timer)
  await server.shutdown(0)
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
