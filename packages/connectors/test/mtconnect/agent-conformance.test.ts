// The connector conformance suite for connector.type: mtconnect with agent.ip, against our synthetic agent: the
// agent gone is the device gone (connections refused), a sample that is not a number is the bad data.

import { LATHE, startAgentPeer } from '../../src/testing/agent-peer.ts'
import { connectorConformance } from '../../src/testing/index.ts'
import { agentConnector } from './agent-helpers.ts'

connectorConformance({
  name: 'mtconnect (external agent)',
  async setup(t) {
    const peer = await startAgentPeer(t, { devices: [LATHE] })
    let speed = 1000
    return {
      connector: agentConnector(peer),
      assetUuid: 'LATHE-A',
      async produce() {
        peer.emit([{ id: 's_speed', value: String(speed++) }])
      },
      breakDevice: () => peer.stop(),
      restoreDevice: () => peer.start(),
      async sendBadData() {
        peer.emit([{ id: 's_speed', value: 'not-a-number' }])
        return 's_speed'
      },
    }
  },
})
