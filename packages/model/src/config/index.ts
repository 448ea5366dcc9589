// Configuration: the factory's YAML files (the reference OpenFactory's formats plus our factory.yaml), read,
// checked, and reported with file, line, column and field path.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents, most used first.

// Loading a whole factory: validateFactory collects problems, loadFactory throws them.
export {
  type AppConfig,
  type ConfigFile,
  type ConfigKind,
  ConfigWarning,
  type DeviceConfig,
  type Factory,
  type Infrastructure,
  loadFactory,
  type NetworkConfig,
  type NodeConfig,
  SKIP_MARKER,
  type ValidateFactoryOptions,
  type ValidateFactoryResult,
  type VolumeConfig,
  validateFactory,
} from './validate-factory.ts'
// factory.yaml: name, UNS schema, backbone, topics, include; defaults and per-topic settings.
export {
  ASSETS_TOPIC,
  type AuthSettings,
  type BackboneOptions,
  type EmbeddedBackboneOptions,
  type FactoryManifest,
  FactoryManifestSpec,
  factoryNameOf,
  type ForwardOptions,
  KAFKA_SASL_MECHANISMS,
  KAFKA_SECURITY_PROTOCOLS,
  type KafkaBackboneOptions,
  type KafkaSaslOptions,
  type KafkaSaslMechanism,
  type KafkaSecurityProtocol,
  type TopicSettings,
  topicSettings,
} from './factory-manifest.ts'
// The UNS schema and placing assets in it.
export {
  checkUnsPlacement,
  parseUnsSchema,
  placeAsset,
  type UnsConstraint,
  type UnsLevel,
  type UnsProblem,
  type UnsSchema,
  UnsSchemaSpec,
} from './uns-schema.ts'
// The reference formats as TypeBox schemas, with the types derived from them (snake_case, as written).
export {
  CONNECTOR_TYPES,
  type ConnectorConfig,
  type ConnectorType,
  DeviceSpec,
  type ModbusConnectorConfig,
  type MqttConnectorConfig,
  type MTConnectAdapter,
  type MTConnectAgent,
  type MTConnectConnectorConfig,
  type OpcuaConnectorConfig,
  type ShdrConnectorConfig,
  type SimulatorConnectorConfig,
} from './device-schema.ts'
export { AppSpec, BUILTIN_APP_BLOCKS } from './app-schema.ts'
export { AlertsSpec, MAX_ALERT_RULES } from './alerts-schema.ts'
export { HistorianSpec } from './historian-schema.ts'
export { MqttPublishSpec, WebhooksSpec } from './integrations-schema.ts'
export { NetworkSpec, SwarmNodeSpec, VolumeSpec } from './infra-schema.ts'
export { DeploySpec, memoryBytes, normalizeConstraint } from './common-schema.ts'
// The bounds of loading (file sizes, number of files, nesting, aliases): past each, OFA_CONFIG_LIMIT.
export { bytesText, CONFIG_LIMITS, type ConfigLimits } from './limits.ts'
// Text quoted from a file, made safe to print (control and bidi characters escaped).
export { excerpt, printable } from './printable.ts'
// Our SHDR replay adapter's settings (SHDR_FILE, SHDR_SPEED, SHDR_LOOP): one reading for validation and runtime.
export {
  isShdrReplayImage,
  readShdrReplayEnvironment,
  SHDR_REPLAY_IMAGE,
  type ShdrReplayProblem,
  type ShdrReplaySettings,
} from './shdr-replay.ts'
// $VAR, ${VAR} and ${VAR:-default} expansion; the .ofaenv file.
export { type Env, expandEnv, OFAENV_FILE, referencedVariables, withOfaenv } from './expand-env.ts'
// Runtime options objects (EventLogOptions...) checked once against a TypeBox schema, every problem in one error.
export { createOptionsChecker, type OptionsChecker, type OptionsCheckerSpec } from './options-check.ts'
// The simulator connector's configuration (connector.type: simulator).
export * from './simulator-config.ts'
