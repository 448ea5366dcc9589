/**
 * Every file under examples/broken has one known problem (several-problems.yml has several): each must be
 * reported with its exact code, file, line, column and field path. The folder itself is skipped by walks.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { validateFactory } from '../../src/config/index.ts'
import { isOpenFactoryError } from '../../src/errors.ts'
import { brief, EXAMPLE_UNS, ROOT, tmpFactory } from './helpers.ts'

const B = 'examples/broken'

/** path given to validateFactory → expected problems (`file:line:column CODE field.path`). */
const CASES: { path: string; uns?: boolean; expect: string[] }[] = [
  {
    path: `${B}/unknown-field.yml`,
    expect: [`${B}/unknown-field.yml:11:11 OFA_CONFIG_UNKNOWN_FIELD devices.cnc-1.connector.agent.deploy.replica`],
  },
  {
    path: `${B}/wrong-type.yml`,
    expect: [`${B}/wrong-type.yml:9:15 OFA_CONFIG_TYPE devices.cnc-1.connector.agent.port`],
  },
  {
    path: `${B}/missing-field.yml`,
    expect: [`${B}/missing-field.yml:7:7 OFA_CONFIG_MISSING_FIELD devices.sensor.connector.server.uri`],
  },
  { path: `${B}/yaml-syntax.yml`, expect: [`${B}/yaml-syntax.yml:8:1 OFA_CONFIG_YAML`] },
  {
    path: `${B}/simulator-unknown-state.yml`,
    expect: [
      `${B}/simulator-unknown-state.yml:13:27 OFA_CONNECTOR_CONFIG devices.press.connector.items.execution.states.READY.next`,
    ],
  },
  {
    path: `${B}/env-unset.yml`,
    expect: [`${B}/env-unset.yml:7:13 OFA_CONFIG_ENV_UNSET devices.lathe-1.connector.host`],
  },
  {
    path: `${B}/duplicate-uuid`,
    expect: [`${B}/duplicate-uuid/second.yml:4:11 OFA_CONFIG_DUPLICATE_UUID apps.monitor.uuid`],
  },
  {
    path: `${B}/duplicate-ip.yml`,
    expect: [`${B}/duplicate-ip.yml:10:11 OFA_CONFIG_DUPLICATE_IP nodes.workers.worker-2.ip`],
  },
  {
    path: `${B}/uns-value-not-allowed.yml`,
    uns: true,
    expect: [`${B}/uns-value-not-allowed.yml:6:13 OFA_UNS_INVALID devices.robot.uns.area`],
  },
  { path: `${B}/uns-gap.yml`, uns: true, expect: [`${B}/uns-gap.yml:5:5 OFA_UNS_INVALID devices.robot.uns`] },
  {
    path: `${B}/uns-constant.yml`,
    uns: true,
    expect: [`${B}/uns-constant.yml:6:12 OFA_UNS_INVALID devices.robot.uns.inc`],
  },
  {
    path: `${B}/uns-missing-schema.yml`,
    expect: [`${B}/uns-missing-schema.yml:5:5 OFA_UNS_MISSING_SCHEMA devices.robot.uns`],
  },
  {
    path: `${B}/device-xml-not-found.yml`,
    expect: [`${B}/device-xml-not-found.yml:9:21 OFA_CONFIG_FILE devices.cnc-1.connector.agent.device_xml`],
  },
  {
    path: `${B}/bad-memory.yml`,
    expect: [`${B}/bad-memory.yml:9:19 OFA_CONFIG_VALUE apps.historian.deploy.resources.limits.memory`],
  },
  { path: `${B}/unknown-kind.yml`, expect: [`${B}/unknown-kind.yml:2:1 OFA_CONFIG_KIND_UNKNOWN`] },
  { path: `${B}/uns-schema-template.yml`, expect: [`${B}/uns-schema-template.yml:7:15 OFA_UNS_SCHEMA uns_template`] },
  {
    path: `${B}/external-agent-with-adapter.yml`,
    expect: [`${B}/external-agent-with-adapter.yml:10:9 OFA_CONFIG_VALUE devices.cnc-1.connector.agent.adapter`],
  },
  {
    path: `${B}/opcua-two-node-ids.yml`,
    expect: [
      `${B}/opcua-two-node-ids.yml:12:11 OFA_CONFIG_VALUE devices.sensor.connector.variables.temperature.browse_path`,
    ],
  },
  {
    path: `${B}/kafka-factory`,
    expect: [`${B}/kafka-factory/factory.yaml:3:1 OFA_CONFIG_MISSING_FIELD backbone.bootstrapServers`],
  },
  {
    path: `${B}/bad-hostname.yml`,
    expect: [`${B}/bad-hostname.yml:9:17 OFA_CONFIG_VALUE apps.historian.routing.hostname`],
  },
  {
    path: `${B}/local-path-not-found.yml`,
    expect: [`${B}/local-path-not-found.yml:9:21 OFA_CONFIG_FILE apps.exporter.storage.exports.local_path`],
  },
  {
    path: `${B}/env-empty-host.yml`,
    expect: [`${B}/env-empty-host.yml:8:24 OFA_CONFIG_ENV_EMPTY devices.sensor.connector.server.uri`],
  },
  {
    path: `${B}/shdr-replay-speed.yml`,
    expect: [`${B}/shdr-replay-speed.yml:15:15 OFA_CONFIG_VALUE devices.mill.connector.agent.adapter.environment[1]`],
  },
  { path: `${B}/too-deep.yml`, expect: [`${B}/too-deep.yml:2:73 OFA_CONFIG_LIMIT`] },
  { path: `${B}/alias-bomb.yml`, expect: [`${B}/alias-bomb.yml:7:45 OFA_CONFIG_LIMIT l5[7]`] },
  { path: `${B}/not-utf8.yml`, expect: [`${B}/not-utf8.yml:3:4 OFA_CONFIG_FILE`] },
  { path: `${B}/duplicate-key.yml`, expect: [`${B}/duplicate-key.yml:6:3 OFA_CONFIG_YAML devices.press`] },
  {
    path: `${B}/several-problems.yml`,
    expect: [
      `${B}/several-problems.yml:8:15 OFA_CONFIG_VALUE devices.cnc-1.connector.agent.port`,
      `${B}/several-problems.yml:12:11 OFA_CONFIG_VALUE devices.cnc-1.connector.agent.adapter.image`,
      `${B}/several-problems.yml:15:11 OFA_CONFIG_VALUE devices.sensor.uuid`,
      `${B}/several-problems.yml:19:14 OFA_CONFIG_VALUE devices.sensor.connector.server.uri`,
      `${B}/several-problems.yml:22:20 OFA_CONFIG_VALUE devices.sensor.connector.variables.temp.node_id`,
      `${B}/several-problems.yml:24:25 OFA_CONFIG_VALUE devices.sensor.connector.variables.temp.access_level`,
      `${B}/several-problems.yml:25:3 OFA_CONFIG_MISSING_FIELD devices.lathe.connector`,
      `${B}/several-problems.yml:27:5 OFA_CONFIG_UNKNOWN_FIELD devices.lathe.conector`,
    ],
  },
]

for (const c of CASES) {
  test(`${c.path}: ${c.expect.map((e) => e.split(' ')[1]).join(', ')}`, async () => {
    const { problems } = await validateFactory([c.path], { cwd: ROOT, env: {}, ...(c.uns ? { uns: EXAMPLE_UNS } : {}) })
    assert.deepEqual(brief(problems), c.expect)
    for (const p of problems) {
      assert.ok(isOpenFactoryError(p))
      // The one-line form starts with the place, and the message names the field path.
      assert.ok(p.format().startsWith(`${p.where?.file}:${p.where?.line}:${p.where?.column}: ${p.code} `))
      if (p.where?.path) assert.ok(p.message.startsWith(`${p.where.path}: `), p.message)
    }
  })
}

test('messages say what was expected and what was found', async () => {
  const { problems } = await validateFactory([`${B}/wrong-type.yml`, `${B}/unknown-field.yml`], { cwd: ROOT, env: {} })
  assert.deepEqual(
    problems.map((p) => p.message),
    [
      'devices.cnc-1.connector.agent.deploy.replica: unknown field (did you mean "replicas"?)',
      'devices.cnc-1.connector.agent.port: expected a port number, got "abc"',
    ],
  )
})

test('examples/broken holds .ofa-skip: a walk of a folder above it skips it and says so', async (t) => {
  const dir = await tmpFactory(t, {
    'devices/a.yml': 'devices:\n  a:\n    uuid: A-1\n    connector: {type: simulator}\n',
  })
  await cp(join(ROOT, B), join(dir, 'devices/broken'), { recursive: true })
  const { factory, problems, skipped } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), [])
  assert.deepEqual(skipped, [join(dir, 'devices/broken')])
  assert.deepEqual(
    factory.devices.map((d) => d.uuid),
    ['A-1'],
  )
})

test('every broken example is listed above', () => {
  const listed = new Set(CASES.map((c) => c.path.slice(B.length + 1)))
  const files = readdirSync(join(ROOT, B)).filter((f) => f !== 'README.md' && !f.startsWith('.'))
  assert.deepEqual(
    files.filter((f) => !listed.has(f)),
    [],
  )
})
