// @openfactory/connector-modbus: registers `connector.type: modbus` with the connector registry when loaded.
export * from './codec.ts'
export * from './modbus-client.ts'
export * from './modbus-connector.ts'
export * from './modbus-map.ts'
export * from './modbus-spec.ts'
export * from './planner.ts'
