// MTConnect: device descriptions (Devices.xml) and `connector.type: mtconnect` with device_xml + adapter.

// Devices.xml → device models, assets and SHDR key maps.
export * from './devices-xml.ts'
// The connector: Devices.xml + an SHDR adapter; `connector.type: mtconnect` and our SHDR replay adapter.
export * from './mtconnect-connector.ts'
export * from './mtconnect-spec.ts'
// The strict XML reader Devices.xml goes through (saxes: no DOCTYPE, no entity declarations).
export { localName, parseXml, type XmlElement } from './xml.ts'
