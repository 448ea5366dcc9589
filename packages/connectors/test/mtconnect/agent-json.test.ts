// An agent's JSON answers (json-document.ts): each document written in XML, in JSON version 1 and in JSON version 2
// (the layouts an MTConnect agent writes) reads the same, so the agent client works on whichever it is given.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import { getAgentDocument, readAgentDocument } from '../../src/mtconnect/index.ts'

const SRC = 'http://agent:5000/sample'

/**
 * The document as plain data (attribute records without prototype become plain objects), without the places in
 * the text a device model keeps for its messages (JSON has none).
 */
function plain(text: string): unknown {
  return JSON.parse(
    JSON.stringify(readAgentDocument(text, SRC), (k, v) => (k === 'line' || k === 'column' ? undefined : v)),
  )
}

const STREAMS_XML = `<MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:2.2">
  <Header instanceId="31" version="2.2.0.1" bufferSize="4096" firstSequence="5" lastSequence="14" nextSequence="15"/>
  <Streams>
    <DeviceStream name="mill" uuid="MILL-1">
      <ComponentStream component="Linear" name="X" componentId="x">
        <Samples>
          <Position dataItemId="xpos" timestamp="2026-01-02T03:04:05.123456Z" sequence="10" subType="ACTUAL">12.5</Position>
          <PathPosition dataItemId="ppos" timestamp="2026-01-02T03:04:05.2Z" sequence="11">1 2 3</PathPosition>
          <DisplacementTimeSeries dataItemId="vib" timestamp="2026-01-02T03:04:05.3Z" sequence="12" sampleCount="3" sampleRate="100">0.1 0.2 0.3</DisplacementTimeSeries>
        </Samples>
      </ComponentStream>
      <ComponentStream component="Controller" name="ctl" componentId="c">
        <Events>
          <ControllerMode dataItemId="mode" timestamp="2026-01-02T03:04:05Z" sequence="8">AUTOMATIC</ControllerMode>
          <VariableDataSet dataItemId="vars" timestamp="2026-01-02T03:04:06Z" sequence="13" count="2"><Entry key="a">1</Entry><Entry key="b" removed="true"/></VariableDataSet>
          <WorkOffsetTable dataItemId="wo" timestamp="2026-01-02T03:04:06Z" sequence="14" count="1"><Entry key="G54"><Cell key="X">1.5</Cell><Cell key="Y" removed="true"/></Entry></WorkOffsetTable>
        </Events>
        <Condition>
          <Fault dataItemId="sys" timestamp="2026-01-02T03:04:05Z" sequence="9" type="SYSTEM" nativeCode="E42" nativeSeverity="3" qualifier="HIGH">Lube low</Fault>
          <Normal dataItemId="temp" timestamp="2026-01-02T03:04:05Z" sequence="7" type="TEMPERATURE"/>
        </Condition>
      </ComponentStream>
    </DeviceStream>
  </Streams>
</MTConnectStreams>`

const HEADER = {
  instanceId: 31,
  version: '2.2.0.1',
  bufferSize: 4096,
  firstSequence: 5,
  lastSequence: 14,
  nextSequence: 15,
}
const X = { component: 'Linear', name: 'X', componentId: 'x' }
const CTL = { component: 'Controller', name: 'ctl', componentId: 'c' }
const XPOS = {
  dataItemId: 'xpos',
  timestamp: '2026-01-02T03:04:05.123456Z',
  sequence: 10,
  subType: 'ACTUAL',
  value: 12.5,
}
const PPOS = { dataItemId: 'ppos', timestamp: '2026-01-02T03:04:05.2Z', sequence: 11, value: [1, 2, 3] }
const VIB = {
  dataItemId: 'vib',
  timestamp: '2026-01-02T03:04:05.3Z',
  sequence: 12,
  sampleCount: 3,
  sampleRate: 100,
  value: [0.1, 0.2, 0.3],
}
const MODE = { dataItemId: 'mode', timestamp: '2026-01-02T03:04:05Z', sequence: 8, value: 'AUTOMATIC' }
const VARS = {
  dataItemId: 'vars',
  timestamp: '2026-01-02T03:04:06Z',
  sequence: 13,
  count: 2,
  value: { a: 1, b: { removed: true } },
}
const WO = {
  dataItemId: 'wo',
  timestamp: '2026-01-02T03:04:06Z',
  sequence: 14,
  count: 1,
  value: { G54: { X: 1.5, Y: { removed: true } } },
}
const FAULT = {
  dataItemId: 'sys',
  timestamp: '2026-01-02T03:04:05Z',
  sequence: 9,
  type: 'SYSTEM',
  nativeCode: 'E42',
  nativeSeverity: 3,
  qualifier: 'HIGH',
  value: 'Lube low',
}
const NORMAL = { dataItemId: 'temp', timestamp: '2026-01-02T03:04:05Z', sequence: 7, type: 'TEMPERATURE' }

/** Version 1: arrays of one-key objects, and a ComponentStreams array in each DeviceStream. */
const STREAMS_V1 = JSON.stringify({
  MTConnectStreams: {
    jsonVersion: 1,
    schemaVersion: '2.2',
    Header: HEADER,
    Streams: [
      {
        DeviceStream: {
          name: 'mill',
          uuid: 'MILL-1',
          ComponentStreams: [
            {
              ComponentStream: {
                ...X,
                Samples: [{ Position: XPOS }, { PathPosition: PPOS }, { DisplacementTimeSeries: VIB }],
              },
            },
            {
              ComponentStream: {
                ...CTL,
                Events: [{ ControllerMode: MODE }, { VariableDataSet: VARS }, { WorkOffsetTable: WO }],
                Condition: [{ Fault: FAULT }, { Normal: NORMAL }],
              },
            },
          ],
        },
      },
    ],
  },
})

/** Version 2: children of one name grouped in an array under that name. */
const STREAMS_V2 = JSON.stringify({
  MTConnectStreams: {
    jsonVersion: 2,
    schemaVersion: '2.2',
    Header: HEADER,
    Streams: {
      DeviceStream: [
        {
          name: 'mill',
          uuid: 'MILL-1',
          ComponentStream: [
            { ...X, Samples: { Position: [XPOS], PathPosition: [PPOS], DisplacementTimeSeries: [VIB] } },
            {
              ...CTL,
              Events: { ControllerMode: [MODE], VariableDataSet: [VARS], WorkOffsetTable: [WO] },
              Condition: { Fault: [FAULT], Normal: [NORMAL] },
            },
          ],
        },
      ],
    },
  },
})

const DEVICES_XML = `<MTConnectDevices><Header instanceId="31" assetBufferSize="8"/><Devices>
  <Device id="d1" name="mill" uuid="MILL-1"><Description manufacturer="Acme">A synthetic mill</Description>
    <DataItems><DataItem id="avail" type="AVAILABILITY" category="EVENT"/></DataItems>
    <Components>
      <Axes id="ax" name="base"><Components><Linear id="x" name="X"><DataItems>
        <DataItem id="xpos" type="POSITION" subType="ACTUAL" category="SAMPLE" units="MILLIMETER" nativeUnits="INCH"/>
        <DataItem id="vib" type="DISPLACEMENT" category="SAMPLE" units="MILLIMETER" representation="TIME_SERIES" sampleRate="100"/>
      </DataItems></Linear></Components></Axes>
      <Controller id="c" name="ctl"><DataItems>
        <DataItem id="mode" type="CONTROLLER_MODE" category="EVENT"><Constraints><Value>AUTOMATIC</Value><Value>MANUAL</Value></Constraints></DataItem>
        <DataItem id="vars" type="VARIABLE" category="EVENT" representation="DATA_SET"/>
        <DataItem id="sys" type="SYSTEM" category="CONDITION"/>
      </DataItems></Controller>
    </Components>
  </Device></Devices></MTConnectDevices>`

const AVAIL = { id: 'avail', type: 'AVAILABILITY', category: 'EVENT' }
const XPOS_DI = {
  id: 'xpos',
  type: 'POSITION',
  subType: 'ACTUAL',
  category: 'SAMPLE',
  units: 'MILLIMETER',
  nativeUnits: 'INCH',
}
const VIB_DI = {
  id: 'vib',
  type: 'DISPLACEMENT',
  category: 'SAMPLE',
  units: 'MILLIMETER',
  representation: 'TIME_SERIES',
  sampleRate: 100,
}
const MODE_DI = {
  id: 'mode',
  type: 'CONTROLLER_MODE',
  category: 'EVENT',
  Constraints: { Value: ['AUTOMATIC', 'MANUAL'] },
}
const VARS_DI = { id: 'vars', type: 'VARIABLE', category: 'EVENT', representation: 'DATA_SET' }
const SYS_DI = { id: 'sys', type: 'SYSTEM', category: 'CONDITION' }
const DESCRIPTION = { manufacturer: 'Acme', value: 'A synthetic mill' }

const DEVICES_V1 = JSON.stringify({
  MTConnectDevices: {
    jsonVersion: 1,
    Header: { instanceId: 31, assetBufferSize: 8 },
    Devices: [
      {
        Device: {
          id: 'd1',
          name: 'mill',
          uuid: 'MILL-1',
          Description: DESCRIPTION,
          DataItems: [{ DataItem: AVAIL }],
          Components: [
            {
              Axes: {
                id: 'ax',
                name: 'base',
                Components: [
                  { Linear: { id: 'x', name: 'X', DataItems: [{ DataItem: XPOS_DI }, { DataItem: VIB_DI }] } },
                ],
              },
            },
            {
              Controller: {
                id: 'c',
                name: 'ctl',
                DataItems: [{ DataItem: MODE_DI }, { DataItem: VARS_DI }, { DataItem: SYS_DI }],
              },
            },
          ],
        },
      },
    ],
  },
})

const DEVICES_V2 = JSON.stringify({
  MTConnectDevices: {
    jsonVersion: 2,
    Header: { instanceId: 31, assetBufferSize: 8 },
    Devices: {
      Device: [
        {
          id: 'd1',
          name: 'mill',
          uuid: 'MILL-1',
          Description: DESCRIPTION,
          DataItems: { DataItem: [AVAIL] },
          Components: {
            Axes: [
              {
                id: 'ax',
                name: 'base',
                Components: { Linear: [{ id: 'x', name: 'X', DataItems: { DataItem: [XPOS_DI, VIB_DI] } }] },
              },
            ],
            Controller: [{ id: 'c', name: 'ctl', DataItems: { DataItem: [MODE_DI, VARS_DI, SYS_DI] } }],
          },
        },
      ],
    },
  },
})

describe('agent JSON documents', () => {
  test('a Streams document in JSON version 1 and 2 reads as its XML: every kind of observation', () => {
    const xml = plain(STREAMS_XML) as { kind: string; observations: unknown[] }
    assert.equal(xml.kind, 'streams')
    assert.equal(xml.observations.length, 8)
    assert.deepEqual(plain(STREAMS_V1), xml)
    assert.deepEqual(plain(STREAMS_V2), xml)
  })

  test('a Devices document (probe) in JSON version 1 and 2 reads as its XML: components, units, constraints', () => {
    const xml = plain(DEVICES_XML) as { kind: string; devices: unknown[] }
    assert.equal(xml.kind, 'devices')
    assert.equal(xml.devices.length, 1)
    assert.deepEqual(plain(DEVICES_V1), xml)
    assert.deepEqual(plain(DEVICES_V2), xml)
  })

  test('error documents of both versions (Error with errorCode, elements named after the code)', () => {
    const v1 = JSON.stringify({
      MTConnectError: {
        jsonVersion: 1,
        Header: { instanceId: 31 },
        Errors: [{ Error: { errorCode: 'OUT_OF_RANGE', value: "'from' must be at least 5" } }],
      },
    })
    const v2 = JSON.stringify({
      MTConnectError: {
        jsonVersion: 2,
        Header: { instanceId: 31 },
        Errors: { OutOfRange: [{ errorCode: 'OUT_OF_RANGE', ErrorMessage: "'from' must be at least 5" }] },
      },
    })
    const expected = {
      kind: 'error',
      header: { instanceId: '31' },
      errors: [{ code: 'OUT_OF_RANGE', message: "'from' must be at least 5" }],
    }
    assert.deepEqual(plain(v1), expected)
    assert.deepEqual(plain(v2), expected)
  })

  test('assets: each keeps its own JSON text as its body', () => {
    const tool = { assetId: 'T1', deviceUuid: 'MILL-1', timestamp: '2026-01-02T03:04:05Z', ToolLife: { value: 7 } }
    const part = { assetId: 'P1', removed: true }
    const v1 = JSON.stringify({
      MTConnectAssets: { jsonVersion: 1, Header: { instanceId: 31 }, Assets: [{ CuttingTool: tool }, { Part: part }] },
    })
    const v2 = JSON.stringify({
      MTConnectAssets: { jsonVersion: 2, Header: { instanceId: 31 }, Assets: { CuttingTool: [tool], Part: [part] } },
    })
    const expected = {
      kind: 'assets',
      header: { instanceId: '31' },
      assets: [
        {
          assetId: 'T1',
          type: 'CuttingTool',
          timestamp: '2026-01-02T03:04:05Z',
          deviceUuid: 'MILL-1',
          removed: false,
          body: JSON.stringify({ CuttingTool: tool }),
        },
        { assetId: 'P1', type: 'Part', removed: true, body: JSON.stringify({ Part: part }) },
      ],
    }
    assert.deepEqual(plain(v1), expected)
    assert.deepEqual(plain(v2), expected)
  })

  test('JSON that is not a document is a coded error naming the request', () => {
    const refusals: [string, RegExp][] = [
      ['{"MTConnectStreams": {"Header": ', /^http:\/\/agent:5000\/sample: the document is not valid JSON: /],
      ['{}', /must be one object \{"MTConnect<Kind>": \{\.\.\.\}\} \(got none\)$/],
      ['{"a": {}, "b": {}}', /\(got a, b\)$/],
      ['{"MTConnectStreams": 3}', /must be one object/],
      ['{"Nonsense": {"Header": {"instanceId": 1}}}', /<Nonsense> is not an MTConnect response document$/],
      ['{"MTConnectStreams": {"Header": {"instanceId": 1}}}', /the <Header> has no valid firstSequence/],
    ]
    for (const [text, message] of refusals) {
      assert.throws(
        () => readAgentDocument(text, SRC),
        (err: unknown) => isOpenFactoryError(err) && err.code === 'OFA_MTCONNECT_AGENT' && message.test(err.message),
        text,
      )
    }
  })

  test('an HTTP error answered with a JSON document is handed over, as an XML one is', async (t) => {
    const body = JSON.stringify({
      MTConnectError: { Header: { instanceId: 3 }, Errors: [{ Error: { errorCode: 'NO_DEVICE', value: 'none' } }] },
    })
    const server = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as AddressInfo).port
    const res = await getAgentDocument({ host: '127.0.0.1', port }, '/probe', {
      signal: new AbortController().signal,
      connectTimeoutMs: 5000,
      maxBytes: 1 << 20,
    })
    assert.equal(res.status, 404)
    assert.deepEqual(plain(res.body), {
      kind: 'error',
      header: { instanceId: '3' },
      errors: [{ code: 'NO_DEVICE', message: 'none' }],
    })
  })
})
