// @openfactory/log-kafka — the event log over Apache Kafka 4.x.

// The backbone: `EventLog` over Kafka (idempotent acks=all producer, fetches, consumer groups, topic admin).
export { KafkaLog, openKafkaLog } from './kafka-log.ts'
// Options: the connection (as factory.yaml's `backbone.kafka`), the producer, consumers and topic defaults.
export {
  type KafkaCompression,
  type KafkaLogOptions,
  type KafkaSaslMechanism,
  type KafkaSecurityOptions,
  type KafkaSecurityProtocol,
  parseBootstrapServers,
  readPasswordFile,
} from './kafka-log-options.ts'
