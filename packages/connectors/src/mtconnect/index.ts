// MTConnect: device descriptions (Devices.xml), `connector.type: mtconnect` with device_xml + adapter (we are the
// agent), and with agent.ip (we are an agent's client).

// The agent client: HTTP and multipart (agent-client), response documents → observations (streams), the connector.
export * from './agent-client.ts'
export * from './agent-connector.ts'
// Devices.xml → device models, assets and SHDR key maps.
export * from './devices-xml.ts'
// The connector of Devices.xml + an SHDR adapter.
export * from './mtconnect-connector.ts'
// `connector.type: mtconnect` in the registry (both kinds) and our SHDR replay adapter.
export * from './mtconnect-spec.ts'
export * from './streams.ts'
// nativeUnits → units conversion (and nativeScale) of an adapter's numbers.
export * from './unit-conversion.ts'
// The strict XML reader Devices.xml goes through (saxes: no DOCTYPE, no entity declarations).
export { localName, parseXml, type XmlElement } from './xml.ts'
