import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { deviceConfig } from '@openfactory/connectors/testing'
import { isOpenFactoryError } from '@openfactory/model'
import {
  connectorReference,
  connectorSpec,
  connectorSpecs,
  fieldsOfSchema,
  modelConnectorSchema,
  registerConnector,
} from '../src/connector-spec.ts'
import { checkConnectorConfigs, planDevice } from '../src/from-config.ts'
import { SHDR_REPLAY_IMAGE } from '../src/mtconnect/mtconnect-spec.ts'

const DOC = new URL('../../../docs/reference/connectors.md', import.meta.url).pathname
const FIXTURE_XML = new URL('./fixtures/mtconnect/mill-3axis.xml', import.meta.url).pathname

describe('the connector registry', () => {
  test('the built-in types are registered, one spec each', () => {
    assert.deepEqual(
      connectorSpecs().map((s) => s.type),
      ['mtconnect', 'shdr', 'simulator'],
    )
    for (const s of connectorSpecs()) assert.equal(connectorSpec(s.type), s)
    assert.equal(connectorSpec('opcua'), undefined)
    const shdr = connectorSpec('shdr')
    assert.ok(shdr)
    assert.throws(() => registerConnector({ ...shdr, type: 'shdr' }), /registered twice/)
  })

  test('docs/reference/connectors.md lists every registered type and holds each generated section as is', () => {
    const page = readFileSync(DOC, 'utf8')
    for (const spec of connectorSpecs()) {
      assert.match(page, new RegExp(`^\\| \`${spec.type}\` +\\|`, 'm'), `${spec.type} in the table of types`)
      const open = `<!-- connector: ${spec.type} -->\n`
      const close = `\n<!-- /connector: ${spec.type} -->`
      const start = page.indexOf(open)
      const end = page.indexOf(close, start)
      assert.ok(start >= 0 && end > start, `the section of ${spec.type} between ${open.trim()} and ${close.trim()}`)
      assert.equal(
        page.slice(start + open.length, end),
        connectorReference(spec),
        `docs/reference/connectors.md: the section of ${spec.type} should read:\n${connectorReference(spec)}`,
      )
    }
  })

  test("the fields of shdr and mtconnect are model's schema fields, each described", () => {
    const paths = (type: string) => connectorSpec(type)?.fields.map((f) => f.path) ?? []
    assert.deepEqual(paths('shdr'), ['type', 'host', 'port', 'data', 'data.<key>.tag', 'data.<key>.type'])
    assert.ok(paths('mtconnect').includes('agent.adapter.environment'))
    const port = connectorSpec('shdr')?.fields.find((f) => f.path === 'port')
    assert.deepEqual([port?.type, port?.required], ['a port number', true])
    const schema = modelConnectorSchema('shdr')
    assert.throws(() => fieldsOfSchema(schema, {}), /connector field type has no description/)
    const notes = Object.fromEntries(paths('shdr').map((p) => [p, { description: p }]))
    assert.throws(() => fieldsOfSchema(schema, { ...notes, colour: { description: 'x' } }), /colour names no field/)
  })
})

describe('planDevice and checkConnectorConfigs go through the specs', () => {
  test('a type without a registered connector is skipped, and left to model', () => {
    const device = deviceConfig({ type: 'opcua', server: { uri: 'opc.tcp://h:4840' } }, { uuid: 'OPC-1' })
    assert.deepEqual(planDevice(device), { kind: 'skip', reason: 'connector type opcua is not available yet' })
    assert.deepEqual(checkConnectorConfigs([device]), [])
  })

  test('our SHDR replay image is an adapter the runtime starts, its SHDR_FILE relative to the device file', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'ofa-spec-'))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    mkdirSync(join(root, 'devices', 'logs'), { recursive: true })
    writeFileSync(join(root, 'devices', 'logs', 'mill.shdr'), '')
    const device = deviceConfig(
      {
        type: 'mtconnect',
        agent: {
          port: 5000,
          device_xml: FIXTURE_XML,
          adapter: {
            image: `${SHDR_REPLAY_IMAGE}:1.0`,
            port: 7979,
            environment: ['SHDR_FILE=logs/mill.shdr', 'SHDR_SPEED=10', 'SHDR_LOOP=false'],
          },
        },
      },
      { uuid: 'MILL-9', file: join(root, 'devices', 'mill.yml') },
    )
    const plan = planDevice(device)
    assert.equal(plan.kind, 'run')
    assert.deepEqual(plan.kind === 'run' ? plan.adapter : undefined, {
      deviceUuid: 'MILL-9',
      file: join(root, 'devices', 'logs', 'mill.shdr'),
      port: 7979,
      speed: 10,
      loop: false,
    })
    assert.equal(plan.kind === 'run' ? plan.connector.name : '', 'MILL-9')
  })

  test('the older format (agent under the device) names its fields where they are', () => {
    const device = deviceConfig(
      {
        type: 'mtconnect',
        agent: { port: 5000, device_xml: FIXTURE_XML, adapter: { image: SHDR_REPLAY_IMAGE, port: 1 } },
      },
      { uuid: 'OLD-1', name: 'old', legacyFormat: true },
    )
    const [problem] = checkConnectorConfigs([device])
    assert.ok(isOpenFactoryError(problem, 'OFA_CONNECTOR_CONFIG'))
    assert.equal(problem.where?.path, 'devices.old.agent.adapter.environment')
    assert.match(problem.message, /needs SHDR_FILE/)
  })
})
