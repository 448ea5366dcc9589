// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in plain strings is the configuration syntax under test.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { emptyHostReferences, typePlainScalar } from '../../src/config/expand-env.ts'
import { expandEnv, validateFactory } from '../../src/config/index.ts'
import { brief, tmpFactory } from './helpers.ts'

test('expandEnv: set, default, empty, unset', () => {
  const env = { HOST: 'plc-1', EMPTY: '', PORT: '502' }
  assert.deepEqual(expandEnv('${HOST}:${PORT}', env), { value: 'plc-1:502', unset: [] })
  assert.deepEqual(expandEnv('${MISSING:-10.0.0.1}', env), { value: '10.0.0.1', unset: [] })
  // `:-` also replaces a variable that is set but empty (Docker Compose semantics, as the reference).
  assert.deepEqual(expandEnv('${EMPTY:-x}', env), { value: 'x', unset: [] })
  assert.deepEqual(expandEnv('a${EMPTY}b', env), { value: 'ab', unset: [] })
  assert.deepEqual(expandEnv('${MISSING:-}', env), { value: '', unset: [] })
  assert.deepEqual(expandEnv('x ${NOPE} y ${HOST}', env), { value: 'x  y plc-1', unset: [{ name: 'NOPE', index: 2 }] })
  assert.deepEqual(expandEnv('$HOST and ${ not a ref', env), { value: 'plc-1 and ${ not a ref', unset: [] })
})

test('expandEnv: $VAR without braces, $$ for a literal $, a $ before anything else kept', () => {
  const env = { HOST: 'plc-1', PORT: '502' }
  assert.deepEqual(expandEnv('$HOST:$PORT', env), { value: 'plc-1:502', unset: [] })
  // The name is the longest run of letters, digits and _: braces end it earlier.
  assert.deepEqual(expandEnv('$HOST_2 ${HOST}_2', env), { value: ' plc-1_2', unset: [{ name: 'HOST_2', index: 0 }] })
  assert.deepEqual(expandEnv('$$HOST $${HOST} $$$HOST', env), { value: '$HOST ${HOST} $plc-1', unset: [] })
  assert.deepEqual(expandEnv('set: $$rpm', env), { value: 'set: $rpm', unset: [] })
  assert.deepEqual(expandEnv('$1 $ $-x 5$', env), { value: '$1 $ $-x 5$', unset: [] })
  assert.deepEqual(expandEnv('a $NOPE', env), { value: 'a ', unset: [{ name: 'NOPE', index: 2 }] })
  // Only the variables themselves: not what every object inherits.
  assert.deepEqual(expandEnv('${constructor}', env), { value: '', unset: [{ name: 'constructor', index: 0 }] })
})

test('emptyHostReferences: a variable that leaves a URI without its host', () => {
  const env = { HOST: '', USER: 'u', PREFIX: '', PORT: '' }
  assert.deepEqual(emptyHostReferences('opc.tcp://${HOST}:4840', env), [{ name: 'HOST', index: 10 }])
  assert.deepEqual(emptyHostReferences('mqtt://$USER@$HOST/x', env), [{ name: 'HOST', index: 13 }])
  assert.deepEqual(emptyHostReferences('http://${HOST:-}', env), [{ name: 'HOST', index: 7 }])
  assert.deepEqual(emptyHostReferences('http://${HOST}${PREFIX}', env), [
    { name: 'HOST', index: 7 },
    { name: 'PREFIX', index: 14 },
  ])
  // A host that is not empty, an empty port or path, a default, no URI: nothing.
  assert.deepEqual(emptyHostReferences('http://${PREFIX}plc:${PORT}/$HOST', env), [])
  assert.deepEqual(emptyHostReferences('opc.tcp://${HOST:-plc}:4840', env), [])
  assert.deepEqual(emptyHostReferences('${HOST}', env), [])
  // Unset is another problem (OFA_CONFIG_ENV_UNSET).
  assert.deepEqual(emptyHostReferences('http://${MISSING}/', env), [])
})

test('typePlainScalar: the YAML 1.2 core schema', () => {
  assert.equal(typePlainScalar('7878'), 7878)
  assert.equal(typePlainScalar(' 0.25 '), 0.25)
  assert.equal(typePlainScalar('0x1F'), 31)
  assert.equal(typePlainScalar('0o17'), 15)
  assert.equal(typePlainScalar('true'), true)
  assert.equal(typePlainScalar('False'), false)
  assert.equal(typePlainScalar(''), null)
  assert.equal(typePlainScalar('~'), null)
  assert.equal(typePlainScalar('.inf'), Number.POSITIVE_INFINITY)
  assert.equal(typePlainScalar('10.0.0.1'), '10.0.0.1')
  assert.equal(typePlainScalar('yes'), 'yes')
})

const DEVICE = `devices:
  lathe:
    uuid: \${LATHE_UUID:-LATHE-1}
    connector:
      type: shdr
      host: "\${LATHE_HOST}"
      port: \${LATHE_PORT:-7878}
      data:
        \${KEY}:
          tag: '\${TAG:-Execution}'
          type: Events
`

test('variables are expanded in values, plain scalars re-typed, keys left alone', async (t) => {
  const dir = await tmpFactory(t, { 'lathe.yml': DEVICE })
  const { factory, problems } = await validateFactory([dir], { env: { LATHE_HOST: '10.0.0.7', TAG: '42' } })
  assert.deepEqual(brief(problems), [])
  const lathe = factory.devices[0]!
  assert.equal(lathe.uuid, 'LATHE-1')
  assert.deepEqual(lathe.connector, {
    type: 'shdr',
    host: '10.0.0.7',
    port: 7878,
    // a quoted scalar stays text, even when it looks like a number
    data: { '${KEY}': { tag: '42', type: 'Events' } },
  })
})

test('a plain scalar is re-typed: a port from the environment is a number, text is an error', async (t) => {
  const dir = await tmpFactory(t, { 'lathe.yml': DEVICE })
  const ok = await validateFactory([dir], { env: { LATHE_HOST: 'h', LATHE_PORT: '7000' } })
  assert.equal((ok.factory.devices[0]!.connector as { port: number }).port, 7000)
  const bad = await validateFactory([dir], { cwd: dir, env: { LATHE_HOST: 'h', LATHE_PORT: 'seven' } })
  assert.deepEqual(brief(bad.problems), ['lathe.yml:7:13 OFA_CONFIG_TYPE devices.lathe.connector.port'])
  assert.match(bad.problems[0]!.message, /expected a port number, got "seven"/)
})

test('an unset variable without default names the variable, file, line and column of ${', async (t) => {
  const dir = await tmpFactory(t, {
    'lathe.yml': DEVICE,
    'apps.yml':
      'apps:\n  a:\n    uuid: A-1\n    image: img\n    environment:\n      - URL=http://${API_HOST}:${API_PORT}/x\n',
  })
  const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), [
    'apps.yml:6:20 OFA_CONFIG_ENV_UNSET apps.a.environment[0]',
    'apps.yml:6:32 OFA_CONFIG_ENV_UNSET apps.a.environment[0]',
    'lathe.yml:6:14 OFA_CONFIG_ENV_UNSET devices.lathe.connector.host',
  ])
  assert.match(problems[0]!.message, /environment variable API_HOST is not set/)
  assert.match(
    problems[2]!.format(),
    /^lathe\.yml:6:14: OFA_CONFIG_ENV_UNSET devices\.lathe\.connector\.host: environment variable LATHE_HOST/,
  )
})

test('a problem caused by an unset variable is not reported twice', async (t) => {
  // `ip: ${HOST_IP}` expands to nothing: only the unset variable is reported, not "required field is empty".
  const dir = await tmpFactory(t, { 'infra.yml': 'nodes:\n  managers:\n    m1:\n      ip: ${HOST_IP}\n' })
  const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), ['infra.yml:4:11 OFA_CONFIG_ENV_UNSET nodes.managers.m1.ip'])
  const ok = await validateFactory([dir], { cwd: dir, env: { HOST_IP: '192.168.1.5' } })
  assert.deepEqual(brief(ok.problems), [])
  assert.equal(ok.factory.infrastructure.nodes[0]?.ip, '192.168.1.5')
})

test('variables inside anchors are expanded once and shared by aliases', async (t) => {
  const dir = await tmpFactory(t, {
    'apps.yml': `x-deploy: &deploy
  replicas: \${REPLICAS:-2}
apps:
  a:
    uuid: A-1
    image: img
    deploy: *deploy
  b:
    uuid: B-1
    image: img
    deploy:
      <<: *deploy
`,
  })
  // x-deploy is not a section we know: reported as an unknown top-level field, the rest is read.
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), ['apps.yml:1:1 OFA_CONFIG_UNKNOWN_FIELD x-deploy'])
  assert.deepEqual(
    factory.apps.map((a) => a.spec.deploy?.replicas),
    [2, 2],
  )
})

test('the env option is used instead of process.env', async (t) => {
  process.env.OFA_TEST_SHOULD_NOT_BE_READ = 'x'
  t.after(() => {
    delete process.env.OFA_TEST_SHOULD_NOT_BE_READ
  })
  const dir = await tmpFactory(t, {
    'd.yml':
      'devices:\n  d:\n    uuid: D-1\n    connector:\n      type: shdr\n      host: ${OFA_TEST_SHOULD_NOT_BE_READ}\n      port: 1\n',
  })
  const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), ['d.yml:6:13 OFA_CONFIG_ENV_UNSET devices.d.connector.host'])
})

test('references inside flow collections parse as they do in the reference (text expanded before parsing)', async (t) => {
  const dir = await tmpFactory(t, {
    'apps.yml':
      'apps:\n  a: {uuid: ${APP_UUID:-A-1}, image: img, environment: [X=${X}, Y=${Y:-2}], metrics: {port: ${MPORT}}}\n',
  })
  const ok = await validateFactory([dir], { cwd: dir, env: { X: '1', MPORT: '9100' } })
  assert.deepEqual(brief(ok.problems), [])
  assert.deepEqual(ok.factory.apps[0]?.spec.environment, ['X=1', 'Y=2'])
  assert.deepEqual(ok.factory.apps[0]?.spec.metrics, { port: 9100 })
  assert.equal(ok.factory.apps[0]?.uuid, 'A-1')
  const unset = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(unset.problems), [
    'apps.yml:2:59 OFA_CONFIG_ENV_UNSET apps.a.environment[0]',
    'apps.yml:2:93 OFA_CONFIG_ENV_UNSET apps.a.metrics.port',
  ])
})

test('$VAR in files: expanded, an unset one placed at its $, $$ kept as one $', async (t) => {
  const dir = await tmpFactory(t, {
    'd.yml': `devices:
  d:
    uuid: $UUID
    connector:
      type: simulator
      items: {speed: {tag: RotaryVelocity, category: Samples, signal: constant, offset: $SPEED}}
      methods:
        SetSpeed: {arguments: [{name: rpm}], set: {speed: $$rpm}}
  e:
    uuid: E-1
    connector: {type: shdr, host: "x-$NOPE", port: 1}
`,
  })
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: { UUID: 'D-1', SPEED: '1200' } })
  assert.deepEqual(brief(problems), ['d.yml:11:38 OFA_CONFIG_ENV_UNSET devices.e.connector.host'])
  assert.match(problems[0]!.message, /environment variable NOPE is not set/)
  const d = factory.devices[0]!
  assert.equal(d.uuid, 'D-1')
  const c = d.connector as unknown as { items: { speed: { offset: unknown } }; methods: { SetSpeed: { set: unknown } } }
  assert.equal(c.items.speed.offset, 1200)
  assert.deepEqual(c.methods.SetSpeed.set, { speed: '$rpm' })
})

test('a variable that leaves a URI without its host is an error at its $', async (t) => {
  const dir = await tmpFactory(t, {
    'd.yml': `devices:
  a:
    uuid: A-1
    connector:
      type: opcua
      server: {uri: "opc.tcp://\${PLC_HOST}:4840"}
  b:
    uuid: B-1
    connector: {type: mqtt, url: mqtt://$BROKER}
`,
  })
  const { problems } = await validateFactory([dir], { cwd: dir, env: { PLC_HOST: '', BROKER: '' } })
  assert.deepEqual(brief(problems), [
    'd.yml:6:32 OFA_CONFIG_ENV_EMPTY devices.a.connector.server.uri',
    'd.yml:9:41 OFA_CONFIG_ENV_EMPTY devices.b.connector.url',
  ])
  assert.match(problems[0]!.message, /environment variable PLC_HOST is empty, which leaves a URI without its host/)
  const ok = await validateFactory([dir], { cwd: dir, env: { PLC_HOST: 'plc-1', BROKER: 'broker' } })
  assert.deepEqual(brief(ok.problems), [])
})

test('.ofaenv in the working folder: dotenv lines under the real environment', async (t) => {
  const dir = await tmpFactory(t, {
    '.ofaenv': `# variables for this factory
export LATHE_HOST=10.0.0.7
LATHE_PORT = "7000" # a comment
TAG='Execution # not a comment'
OPENFACTORY_UNS_SCHEMA=schemas/plant.yml
`,
    'schemas/plant.yml':
      'namespace_structure:\n  - inc: P\n  - asset: ANY\n  - attribute: ANY\nuns_template: inc/asset/attribute\n',
    'lathe.yml': DEVICE,
  })
  const { factory, problems } = await validateFactory(['lathe.yml'], { cwd: dir, env: { LATHE_PORT: '7001' } })
  assert.deepEqual(brief(problems), [])
  const lathe = factory.devices[0]!
  assert.deepEqual(lathe.connector, {
    type: 'shdr',
    host: '10.0.0.7',
    // The real environment wins over .ofaenv.
    port: 7001,
    data: { '${KEY}': { tag: 'Execution # not a comment', type: 'Events' } },
  })
  assert.equal(lathe.uns?.unsId, 'P/LATHE-1')
  // Without the file, the variable is unset again.
  await writeFile(join(dir, '.ofaenv'), '')
  const again = await validateFactory(['lathe.yml'], { cwd: dir, env: {} })
  assert.deepEqual(brief(again.problems), ['lathe.yml:6:14 OFA_CONFIG_ENV_UNSET devices.lathe.connector.host'])
})
