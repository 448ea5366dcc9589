// The connector conformance suite (@openfactory/connectors/testing) for connector.type: modbus, against a private
// pymodbus server: breaking the device makes its unit stop answering (no response at all, the connection stays
// open), bad data is a response one register short of the request, the method is a writable holding register.
import { connectorConformance, deviceConfig } from '@openfactory/connectors/testing'
import { modbusSpec } from '../src/index.ts'
import { startPeer } from './peer.ts'

connectorConformance({
  name: 'modbus',
  timeoutMs: 15_000,
  async setup(t) {
    const peer = await startPeer(t, '1')
    const block = {
      type: 'modbus',
      host: peer.host,
      port: peer.port,
      poll_interval_ms: 50,
      timeout_ms: 300,
      registers: {
        level: { address: 40, writable: true },
        count: { address: 100, category: 'Events', tag: 'PartCount' },
      },
    }
    const connector = modbusSpec.create(modbusSpec.parse(deviceConfig(block, { uuid: 'MODBUS-CONF' })), {
      timings: { connectTimeoutMs: 2000, backoff: { initialMs: 50, maxMs: 200 } },
    })
    let level = 0
    return {
      connector,
      assetUuid: 'MODBUS-CONF',
      method: { name: 'set_level', arguments: { value: 42 } },
      produce: () => peer.control(`set 1 hr 40 ${++level}`),
      breakDevice: () => peer.control('mute 1'),
      restoreDevice: () => peer.control('unmute 1'),
      async sendBadData() {
        await peer.control('fault 1 short')
        // The next reads are refused as a wrong length; the device answers normally again a moment later.
        setTimeout(() => void peer.control('fault 1 none'), 500)
        return 'level'
      },
    }
  },
})
