// @openfactory/connector-opcua: registers `connector.type: opcua` with the connector registry when loaded.
export * from './certificates.ts'
export * from './opcua-config.ts'
export * from './opcua-connector.ts'
export * from './opcua-spec.ts'
export * from './session-pool.ts'
export * from './values.ts'
