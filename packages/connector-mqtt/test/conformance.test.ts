// The connector conformance suite (@openfactory/connectors/testing) for connector.type: mqtt, against a private
// Mosquitto: breaking the device stops the broker (restoring starts it again on its port, with its persisted
// sessions), values come from Debian's mosquitto_pub, bad data is a payload that is not JSON, the method is an
// MQTT 3.1.1 command without a reply topic (completed once the broker has it).
import { connectorConformance, deviceConfig } from '@openfactory/connectors/testing'
import { start } from '../../../scripts/mosquitto.ts'
import { mqttSpec } from '../src/index.ts'
import { mosquittoPub, privateBroker, stopBroker, uniqueTopic } from './broker.ts'

connectorConformance({
  name: 'mqtt',
  timeoutMs: 20_000,
  async setup(t) {
    const broker = await privateBroker(t)
    const topic = uniqueTopic()
    const block = {
      type: 'mqtt',
      url: broker.url,
      protocol_version: 4,
      client_id: `ofa-conf-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      topics: { load: { topic: `${topic}/load`, tag: 'Load' } },
      commands: { Blink: { topic: `${topic}/cmd`, arguments: ['times'] } },
    }
    const connector = mqttSpec.create(mqttSpec.parse(deviceConfig(block, { uuid: 'MQTT-CONF' })), {
      timings: { connectTimeoutMs: 2000, backoff: { initialMs: 100, maxMs: 500 } },
    })
    let n = 0
    return {
      connector,
      assetUuid: 'MQTT-CONF',
      method: { name: 'Blink', arguments: { times: 3 } },
      async produce() {
        await mosquittoPub(broker, `${topic}/load`, [String(++n)])
      },
      async breakDevice() {
        await stopBroker(broker)
      },
      async restoreDevice() {
        await start({ name: broker.name, port: broker.port })
      },
      async sendBadData() {
        await mosquittoPub(broker, `${topic}/load`, ['{not json'])
        return 'load'
      },
    }
  },
})
