// MTConnect: device descriptions (Devices.xml) and `connector.type: mtconnect` with device_xml + adapter.

// Devices.xml → device models, assets and SHDR key maps.
export * from './devices-xml.ts'
// The connector: Devices.xml + an SHDR adapter.
export * from './mtconnect-connector.ts'
// The small strict XML reader Devices.xml goes through.
export { localName, parseXml, type XmlElement } from './xml.ts'
