// The Kafka connection's security from the command line (runtime/kafka-security.ts): the `--kafka-*` flags and
// `OFA_KAFKA_*` variables over factory.yaml's `backbone.security`, shared by every command that takes --bootstrap.
// First the parser alone (what wins, what is refused, naming the flag or variable and never the password), then the
// commands against the REAL SASL_SSL listener of the test cluster (scripts/kafka: SCRAM-SHA-512/256 and PLAIN, user
// ofa, a CA of its own; packages/log-kafka/test/helpers.ts): ofa log, ofa up with the demo factory, ofa plan and
// ofa history, ofa run and ofa run --workers, a wrong password refused with OFA_LOG_AUTH without printing it; and
// ofa apply --swarm on the test dockerd (packages/cli/test/docker-engine.ts), its services on the SASL listener.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openKafkaLog } from '@openfactory/log-kafka'
import { isOpenFactoryError, loadFactory, type OpenFactoryError } from '@openfactory/model'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { readDeployments } from '../src/deploy/deployments.ts'
import { stackSecrets, withKafkaSecrets, withSecrets } from '../src/deploy/secrets.ts'
import { generateStack, serviceName } from '../src/deploy/stack.ts'
import { chooseBackbone } from '../src/runtime/backbone.ts'
import { type KafkaSecurityInput, kafkaSecurity } from '../src/runtime/kafka-security.ts'
import { docker, dockerHost, dockerOk, removeStackAfter } from './docker-engine.ts'
import { demoCopy, eventually, freePort, getJson, ofa, startOfa, tempDir } from './helpers.ts'

const BIN = fileURLToPath(new URL('../bin/ofa.js', import.meta.url))
/** A password no message may hold. */
const SECRET = 'never-print-me-42'
/** `${KAFKA_PASSWORD}` as factory.yaml writes it. */
const PASSWORD_REF = `$${'{'}KAFKA_PASSWORD}`

/** The error `fn` throws: OFA_CLI_KAFKA_SECURITY, its message matching `re`, without the password. */
function refused(fn: () => unknown, re: RegExp): OpenFactoryError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(isOpenFactoryError(caught, 'OFA_CLI_KAFKA_SECURITY'), `OFA_CLI_KAFKA_SECURITY, got ${String(caught)}`)
  assert.match(caught.message, re)
  assert.doesNotMatch(caught.message, new RegExp(SECRET))
  return caught
}

const security = (over: Partial<KafkaSecurityInput>) => kafkaSecurity({ flags: {}, env: {}, cwd: '/', ...over })

test('the parser: each setting from its flag, else its variable, else factory.yaml', async (t) => {
  const dir = await tempDir(t)
  const ca = join(dir, 'ca.pem')
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\n')
  await writeFile(join(dir, 'pw'), `${SECRET}\n`)
  assert.deepEqual(security({}), { protocol: 'PLAINTEXT' }, 'nothing given: PLAINTEXT')
  const base = {
    protocol: 'SASL_SSL' as const,
    sasl: { mechanism: 'PLAIN' as const, username: 'from-yaml', password: 'yaml-pw' },
    tls: { ca: '/yaml/ca.pem', rejectUnauthorized: false },
  }
  assert.deepEqual(security({ base }), base, 'factory.yaml alone')
  assert.deepEqual(
    security({
      base,
      cwd: dir,
      flags: { 'kafka-sasl-mechanism': 'SCRAM-SHA-512', 'kafka-ca': 'ca.pem' },
      env: { OFA_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', OFA_KAFKA_USERNAME: 'from-env', OFA_KAFKA_PASSWORD: SECRET },
    }),
    {
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'from-env', password: SECRET },
      tls: { ca, rejectUnauthorized: false },
    },
    'the flag over the variable over factory.yaml, setting by setting; a relative file from the working folder',
  )
  assert.deepEqual(
    security({ base, flags: { 'kafka-security-protocol': 'SSL' } }),
    { protocol: 'SSL', tls: base.tls },
    "factory.yaml's SASL settings are dropped when the protocol chosen does not use them",
  )
  assert.deepEqual(
    security({
      cwd: dir,
      flags: { 'kafka-password-file': 'pw' },
      env: {
        OFA_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
        OFA_KAFKA_SASL_MECHANISM: 'PLAIN',
        OFA_KAFKA_USERNAME: 'u',
        OFA_KAFKA_PASSWORD: 'loses-to-the-flag',
      },
    }).sasl,
    { mechanism: 'PLAIN', username: 'u', password: SECRET },
    '--kafka-password-file over OFA_KAFKA_PASSWORD; one trailing line break is not part of the password',
  )
  assert.deepEqual(
    security({
      cwd: dir,
      env: {
        OFA_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
        OFA_KAFKA_SASL_MECHANISM: 'PLAIN',
        OFA_KAFKA_USERNAME: 'u',
        OFA_KAFKA_PASSWORD_FILE: join(dir, 'pw'),
      },
    }).sasl?.password,
    SECRET,
  )
  const fromFile = { ...base, sasl: { mechanism: 'PLAIN' as const, username: 'u', passwordFile: '/run/secrets/x' } }
  assert.deepEqual(security({ base: fromFile }).sasl, fromFile.sasl, "factory.yaml's passwordFile is read on open")
  assert.deepEqual(
    security({ base: fromFile, env: { OFA_KAFKA_PASSWORD: SECRET } }).sasl,
    { mechanism: 'PLAIN', username: 'u', password: SECRET },
    "OFA_KAFKA_PASSWORD replaces factory.yaml's passwordFile: the file is not needed",
  )
  assert.deepEqual(
    security({ env: { OFA_KAFKA_SECURITY_PROTOCOL: '', OFA_KAFKA_USERNAME: '' } }),
    { protocol: 'PLAINTEXT' },
    'an empty variable is an unset one',
  )
})

test('the parser refuses, naming the flag or the variable, never the password', async (t) => {
  const dir = await tempDir(t)
  const sasl = { 'kafka-security-protocol': 'SASL_SSL', 'kafka-sasl-mechanism': 'SCRAM-SHA-512' }
  refused(
    () => security({ flags: { 'kafka-security-protocol': 'TLS' } }),
    /^--kafka-security-protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got "TLS"$/,
  )
  refused(
    () => security({ env: { OFA_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl' } }),
    /^OFA_KAFKA_SECURITY_PROTOCOL must be one of/,
  )
  refused(
    () => security({ flags: { 'kafka-security-protocol': 'SASL_SSL' }, env: { OFA_KAFKA_SASL_MECHANISM: 'GSSAPI' } }),
    /^OFA_KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got "GSSAPI"$/,
  )
  refused(
    () => security({ flags: { 'kafka-security-protocol': 'SASL_SSL' } }),
    /SASL_SSL needs a SASL mechanism: --kafka-sasl-mechanism or OFA_KAFKA_SASL_MECHANISM/,
  )
  refused(
    () => security({ flags: sasl, env: { OFA_KAFKA_PASSWORD: SECRET } }),
    /SASL_SSL needs a user name: --kafka-username or OFA_KAFKA_USERNAME/,
  )
  refused(
    () => security({ flags: { ...sasl, 'kafka-username': 'ofa' } }),
    /SASL needs a password: OFA_KAFKA_PASSWORD, --kafka-password-file or OFA_KAFKA_PASSWORD_FILE \(no flag/,
  )
  refused(
    () =>
      security({
        flags: { ...sasl, 'kafka-username': 'ofa' },
        env: { OFA_KAFKA_PASSWORD: SECRET, OFA_KAFKA_PASSWORD_FILE: '/x' },
      }),
    /^OFA_KAFKA_PASSWORD and OFA_KAFKA_PASSWORD_FILE are both set: set one$/,
  )
  refused(
    () => security({ cwd: dir, flags: { ...sasl, 'kafka-username': 'ofa', 'kafka-password-file': 'nope' } }),
    new RegExp(`^--kafka-password-file: cannot read ${join(dir, 'nope')}$`),
  )
  await writeFile(join(dir, 'empty'), '\n')
  refused(
    () => security({ cwd: dir, env: { OFA_KAFKA_PASSWORD_FILE: 'empty' }, flags: { ...sasl, 'kafka-username': 'o' } }),
    /^OFA_KAFKA_PASSWORD_FILE: .*empty is empty$/,
  )
  refused(
    () => security({ cwd: dir, flags: { 'kafka-security-protocol': 'SSL', 'kafka-ca': 'missing-ca.pem' } }),
    new RegExp(`^--kafka-ca: no file ${join(dir, 'missing-ca.pem')}$`),
  )
  refused(
    () => security({ cwd: dir, flags: { 'kafka-security-protocol': 'SSL' }, env: { OFA_KAFKA_CA: dir } }),
    /^OFA_KAFKA_CA: no file /,
  )
  await writeFile(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\n')
  refused(
    () => security({ cwd: dir, flags: { 'kafka-security-protocol': 'SSL', 'kafka-cert': 'cert.pem' } }),
    /^--kafka-cert needs --kafka-key or OFA_KAFKA_KEY: a client certificate and its key go together$/,
  )
  // Credentials with no protocol that uses them: a protocol forgotten, not PLAINTEXT chosen.
  refused(
    () => security({ env: { OFA_KAFKA_USERNAME: 'ofa', OFA_KAFKA_PASSWORD: SECRET } }),
    /^OFA_KAFKA_USERNAME, OFA_KAFKA_PASSWORD are given but the security protocol is PLAINTEXT: use SASL_PLAINTEXT or SASL_SSL/,
  )
  assert.deepEqual(
    security({ flags: { 'kafka-security-protocol': 'PLAINTEXT' }, env: { OFA_KAFKA_PASSWORD: SECRET } }),
    { protocol: 'PLAINTEXT' },
    'unless the protocol is a flag: the command line chose, the variables it does not use are left alone',
  )
  refused(
    () => security({ flags: { 'kafka-security-protocol': 'SASL_PLAINTEXT', 'kafka-ca': 'ca.pem' } }),
    /^--kafka-ca is given but --kafka-security-protocol says SASL_PLAINTEXT: use SSL or SASL_SSL/,
  )
})

test('the backbone: the flags refused on the embedded log; --bootstrap keeps the security factory.yaml gives', async (t) => {
  const dir = await demoCopy(t)
  const factory = await loadFactory([dir], { env: {} })
  assert.throws(
    () => chooseBackbone(factory.manifest, { kafkaSecurity: { 'kafka-username': 'ofa' } }, dir, {}),
    (err) =>
      isOpenFactoryError(err, 'OFA_CLI_KAFKA_SECURITY') &&
      /^--kafka-username: the backbone is the embedded/.test(err.message),
  )
  assert.deepEqual(
    chooseBackbone(factory.manifest, {}, dir, { OFA_KAFKA_USERNAME: 'ofa' }).type,
    'embedded',
    'the variables are left alone where no Kafka is connected to',
  )
  const manifest = join(dir, 'factory.yaml')
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace(
      'type: embedded',
      'type: kafka\n  bootstrapServers: [yaml:9093]\n  security:\n    protocol: SASL_SSL\n' +
        '    sasl: {mechanism: SCRAM-SHA-256, username: ofa, passwordFile: .secrets/kafka}\n',
    ),
  )
  const named = (await loadFactory([dir], { env: {} })).manifest
  const b = chooseBackbone(named, { bootstrap: 'cli:9093' }, dir, { OFA_KAFKA_PASSWORD: SECRET })
  assert.deepEqual(b, {
    type: 'kafka',
    bootstrapServers: ['cli:9093'],
    clientId: 'openfactory',
    security: { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-256', username: 'ofa', password: SECRET } },
  })
})

test('a stack on a secured Kafka: the settings as flags, the password and the CA as Docker secrets', async (t) => {
  const dir = await demoCopy(t)
  const ca = join(dir, '..', 'ca.pem')
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n')
  const factory = await loadFactory([dir], { env: {} })
  const opts = { image: 'openfactory/ofa:test', bootstrapServers: ['k:9093'] }
  const secured = {
    protocol: 'SASL_SSL' as const,
    sasl: { mechanism: 'SCRAM-SHA-512' as const, username: 'ofa', password: SECRET },
    tls: { ca, rejectUnauthorized: true },
  }
  const plain = generateStack(factory, { ...opts, security: { protocol: 'PLAINTEXT' } })
  assert.deepEqual(plain, generateStack(factory, opts), 'a plain Kafka: the commands as they were')
  const stack = generateStack(factory, { ...opts, security: secured })
  assert.deepEqual(stack.services.workers?.command, [
    'run',
    '--workers',
    '/factory',
    '--backbone',
    'kafka',
    '--bootstrap',
    'k:9093',
    '--kafka-security-protocol',
    'SASL_SSL',
    '--kafka-sasl-mechanism',
    'SCRAM-SHA-512',
    '--kafka-username',
    'ofa',
    '--kafka-ca',
    '/run/secrets/ofa-kafka-ca.pem',
  ])
  const secrets = withKafkaSecrets('plant', stackSecrets('plant', new Map(), {}), secured)
  assert.deepEqual(
    secrets.map((s) => [s.key, s.target, s.variable]),
    [
      ['kafka_password', 'ofa-env-OFA_KAFKA_PASSWORD', 'OFA_KAFKA_PASSWORD'],
      ['kafka_ca', 'ofa-kafka-ca.pem', undefined],
    ],
    'the password is read back by ofa run as OFA_KAFKA_PASSWORD (secretsEnv)',
  )
  assert.equal(secrets[0]?.value, SECRET)
  assert.match(secrets[1]?.value ?? '', /^-----BEGIN CERTIFICATE-----\nCA\n/)
  const file = withSecrets(stack, secrets, opts.image)
  assert.deepEqual(file.services.workers?.secrets, [
    { source: 'kafka_password', target: 'ofa-env-OFA_KAFKA_PASSWORD' },
    { source: 'kafka_ca', target: 'ofa-kafka-ca.pem' },
  ])
  assert.doesNotMatch(JSON.stringify(file), new RegExp(SECRET), 'no password in the stack file')
  const rotated = withKafkaSecrets('plant', [], { ...secured, sasl: { ...secured.sasl, password: 'new' } })
  assert.notEqual(rotated[0]?.name, secrets[0]?.name, 'a new password, a new secret (the services are updated)')

  // ofa stack names the secrets to make; it needs no password.
  const r = await ofa(
    ['stack', dir, '--bootstrap', 'k:9093', '--kafka-security-protocol', 'SASL_SSL', '--kafka-ca', ca],
    { env: { OFA_KAFKA_SASL_MECHANISM: 'PLAIN', OFA_KAFKA_USERNAME: 'ofa' } },
  )
  assert.equal(r.code, 0, r.stderr)
  const printed = JSON.parse(r.stdout)
  assert.deepEqual(printed.secrets, {
    kafka_password: { external: true, name: 'ofa-kafka-password' },
    kafka_ca: { external: true, name: 'ofa-kafka-ca' },
  })
  assert.match(r.stderr, /make these Docker secrets before deploying: ofa-kafka-password, ofa-kafka-ca/)
})

test('factory.yaml: password as a variable or passwordFile; a password file the deployments would keep is refused', async (t) => {
  const dir = await demoCopy(t)
  const manifest = join(dir, 'factory.yaml')
  const text = await readFile(manifest, 'utf8')
  const kafkaWith = (sasl: string) =>
    text.replace(
      'type: embedded',
      `type: kafka\n  bootstrapServers: [k:9093]\n  security:\n    protocol: SASL_SSL\n    sasl: ${sasl}\n`,
    )
  await writeFile(manifest, kafkaWith(`{mechanism: PLAIN, username: ofa, password: ${PASSWORD_REF}}`))
  const f = await loadFactory([dir], { env: { KAFKA_PASSWORD: SECRET } })
  assert.equal(f.manifest.backbone.type === 'kafka' && f.manifest.backbone.security.sasl?.password, SECRET)
  await writeFile(manifest, kafkaWith('{mechanism: PLAIN, username: ofa, passwordFile: secrets/kafka-password}'))
  await assert.rejects(loadFactory([dir], { env: {} }), (err: unknown) => {
    const p = (err as OpenFactoryError).problems[0]
    return p?.code === 'OFA_CONFIG_VALUE' && /secrets\/kafka-password is in the factory folder/.test(p.message)
  })
  await writeFile(manifest, kafkaWith('{mechanism: PLAIN, username: ofa}'))
  await assert.rejects(loadFactory([dir], { env: {} }), (err: unknown) => {
    const p = (err as OpenFactoryError).problems[0]
    return p?.code === 'OFA_CONFIG_MISSING_FIELD' && /give password .* or passwordFile/.test(p.message)
  })
})

/** The SASL_SSL listener's flags, the password left to the caller. */
async function saslFlags(mechanism = 'SCRAM-SHA-512'): Promise<string[]> {
  const c = await kafka()
  return [
    '--bootstrap',
    c.saslBootstrap,
    '--kafka-security-protocol',
    'SASL_SSL',
    '--kafka-sasl-mechanism',
    mechanism,
    '--kafka-username',
    c.sasl.username,
    '--kafka-ca',
    c.tls.ca,
  ]
}

test('ofa log produce, tail and topics over SASL_SSL: the password from the environment, from a file', {
  timeout: 120_000,
}, async (t) => {
  const c = await kafka()
  const topic = `cli-sasl-${Date.now()}`
  const env = { OFA_KAFKA_PASSWORD: c.sasl.password }
  let r = await ofa(['log', 'produce', topic, ...(await saslFlags()), '--key', 'k', 'over', 'sasl'], { env })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim().split('\n').length, 2)

  const dir = await tempDir(t)
  const file = join(dir, 'kafka-password')
  await writeFile(file, `${c.sasl.password}\n`, { mode: 0o600 })
  r = await ofa(['log', 'tail', topic, ...(await saslFlags('SCRAM-SHA-256')), '--kafka-password-file', file])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).value),
    ['over', 'sasl'],
  )

  // Everything from the environment, as in a container; PLAIN this time.
  r = await ofa(['log', 'topics', '--bootstrap', c.saslBootstrap], {
    env: {
      OFA_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      OFA_KAFKA_SASL_MECHANISM: 'PLAIN',
      OFA_KAFKA_USERNAME: c.sasl.username,
      OFA_KAFKA_PASSWORD_FILE: file,
      OFA_KAFKA_CA: c.tls.ca,
    },
  })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`${topic}\tpartitions=6\tpolicy=delete\trecords=2`))
  for (const out of [r.stdout, r.stderr]) assert.doesNotMatch(out, new RegExp(c.sasl.password))
})

test('a wrong password: OFA_LOG_AUTH, exit 1, the password printed nowhere; missing pieces refused first', {
  timeout: 120_000,
}, async () => {
  const c = await kafka()
  const flags = await saslFlags()
  let r = await ofa(['log', 'topics', ...flags], { env: { OFA_KAFKA_PASSWORD: SECRET } })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /OFA_LOG_AUTH /)
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET))

  // Refused before any connection, exit 2, naming what is missing.
  r = await ofa(['log', 'topics', ...flags])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^OFA_CLI_KAFKA_SECURITY SASL needs a password: OFA_KAFKA_PASSWORD/)
  r = await ofa(['log', 'tail', 't', ...flags.slice(0, 6), '--kafka-ca', '/nonexistent/ca.pem'], {
    env: { OFA_KAFKA_PASSWORD: SECRET },
  })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^OFA_CLI_KAFKA_SECURITY SASL_SSL needs a user name: --kafka-username or OFA_KAFKA_USERNAME/)
  r = await ofa(['log', 'produce', 't', '--bootstrap', c.saslBootstrap, '--kafka-security-protocol', 'SSL', 'x'], {
    env: { OFA_KAFKA_CA: '/nonexistent/ca.pem' },
  })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^OFA_CLI_KAFKA_SECURITY OFA_KAFKA_CA: no file \/nonexistent\/ca\.pem/)
  r = await ofa(['log', 'topics', ...flags.slice(0, 4), '--kafka-sasl-mechanism', 'SCRAM-SHA-1'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--kafka-sasl-mechanism must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/)
  r = await ofa(['log', 'topics', '--kafka-username', 'ofa'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^OFA_CLI_KAFKA_SECURITY --kafka-username: they go with --bootstrap/)
  r = await ofa(['log', 'topics', '--kafka-password', SECRET])
  assert.equal(r.code, 2, 'no flag takes the password itself')
  assert.match(r.stderr, /OFA_CLI_USAGE Unknown option '--kafka-password'/)
  assert.doesNotMatch(r.stderr, new RegExp(SECRET))
})

const CNC = 'DEMO-CNC-SIM-001'

test('ofa up --bootstrap <SASL_SSL> with the flags runs the demo; ofa plan and ofa history read its deployment', {
  timeout: 240_000,
}, async (t) => {
  const c = await kafka()
  const dir = await demoCopy(t)
  const name = `sasl-demo-${Date.now()}`
  const manifest = join(dir, 'factory.yaml')
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('name: demo-factory', `name: ${name}`))
  const flags = await saslFlags()
  // The password from a file given by flag (not from ofa's environment, which an app would inherit); an app of the
  // factory runs `ofa log produce` with only KAFKA_BROKER on its command line: it connects with what ofa up gives it.
  const passwordFile = join(await tempDir(t), 'kafka-password')
  await writeFile(passwordFile, c.sasl.password)
  const appTopic = `sasl-app-${Date.now()}`
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:\n  producer:\n    uuid: SASL-APP\n    command: >-\n      "${process.execPath}" "${BIN}" log produce ${appTopic}\n` +
      `      --bootstrap "$$KAFKA_BROKER" --key k from-app && exec sleep 600\n`,
  )
  const up = startOfa(t, ['up', dir, '--port', '0', ...flags, '--kafka-password-file', passwordFile], {})
  const api = `${await up.url}/api`
  assert.match(up.output(), new RegExp(`data in kafka ${c.saslBootstrap} \\(SASL_SSL, SCRAM-SHA-512 as ofa\\)`))
  await eventually(
    async () => (await getJson(`${api}/assets/${CNC}`)).availability === 'AVAILABLE' || undefined,
    `${CNC} AVAILABLE over SASL_SSL`,
    60_000,
  )
  await eventually(
    async () => {
      const r = await ofa(['log', 'tail', appTopic, ...flags, '--limit', '1'], {
        env: { OFA_KAFKA_PASSWORD: c.sasl.password },
      })
      return (r.code === 0 && /from-app/.test(r.stdout)) || undefined
    },
    'the app produced over SASL_SSL',
    60_000,
  )
  up.child.kill('SIGTERM')
  assert.equal(await up.exited, 0, up.output())
  assert.doesNotMatch(up.output(), new RegExp(c.sasl.password), 'not in the banner, nor in the JSON log lines')

  // ofa history and ofa plan over SASL: the flags, then factory.yaml's security with the password as a variable.
  let r = await ofa(['history', dir, ...flags, '--json'], { env: { OFA_KAFKA_PASSWORD: c.sasl.password } })
  assert.equal(r.code, 0, r.stderr)
  const history = JSON.parse(r.stdout)
  assert.equal(history.factory, name)
  assert.equal(history.deployments.length, 1)
  assert.equal(history.deployments[0].by, 'ofa up')

  await mkdir(join(dir, '.secrets'))
  await writeFile(join(dir, '.secrets', 'kafka'), c.sasl.password)
  const named = (await readFile(manifest, 'utf8')).replace(
    'type: embedded',
    `type: kafka\n  bootstrapServers: [${c.saslBootstrap}]\n  security:\n    protocol: SASL_SSL\n` +
      `    sasl: {mechanism: SCRAM-SHA-256, username: ofa, password: ${PASSWORD_REF}}\n` +
      `    tls: {ca: ${c.tls.ca}}\n`,
  )
  await writeFile(manifest, named)
  r = await ofa(['plan', dir], { env: { KAFKA_PASSWORD: c.sasl.password } })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^Factory ${name}, against deployment 1 of `))
  // factory.yaml's passwordFile (hidden, so no deployment keeps it), read when the connection opens.
  await writeFile(manifest, named.replace(`password: ${PASSWORD_REF}`, 'passwordFile: .secrets/kafka'))
  r = await ofa(['history', dir])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^Factory ${name}: 1 deployment\\(s\\)\\n\\s+1 .* applied .* by ofa up`))
  // A wrong password in the environment wins over factory.yaml's file, and is refused.
  r = await ofa(['history', dir], { env: { OFA_KAFKA_PASSWORD: SECRET } })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /OFA_LOG_AUTH /)
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET))

  // The deployment recorded holds no password (ofa up keeps no files: ofa apply's snapshots leave hidden files out,
  // and a passwordFile the folder would keep is refused, above).
  const log = await openKafkaLog({ bootstrapServers: c.bootstrap, clientId: 'ofa-sasl-test' })
  t.after(() => log.close())
  const deployments = await readDeployments(log, name)
  assert.equal(deployments.length, 1)
  assert.doesNotMatch(JSON.stringify(deployments), new RegExp(c.sasl.password))
})

test('ofa run (a serving app) and ofa run --workers over SASL_SSL, configured by the environment alone', {
  timeout: 180_000,
}, async (t) => {
  const c = await kafka()
  // factory.yaml names the SASL listener with no security: the variables give it, as in a container.
  const dir = await demoCopy(t, { bootstrap: c.saslBootstrap })
  // A name of its own: its lease groups are no other test's.
  const name = `sasl-run-${Date.now()}`
  const manifest = join(dir, 'factory.yaml')
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('name: demo-factory', `name: ${name}`))
  const env = {
    OFA_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    OFA_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    OFA_KAFKA_USERNAME: c.sasl.username,
    OFA_KAFKA_PASSWORD: c.sasl.password,
    OFA_KAFKA_CA: c.tls.ca,
  }
  const serve = startOfa(t, ['run', 'OFA-SERVE', dir, '--port', '0'], env)
  const api = `${await serve.url}/api`
  assert.match(serve.output(), /serving app OFA-SERVE on kafka .* \(SASL_SSL, SCRAM-SHA-256 as ofa\)/)
  assert.equal((await fetch(`${api}/assets`)).status, 200, 'the API answers')
  const workers = spawn(process.execPath, [BIN, 'run', '--workers', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  t.after(() => workers.kill('SIGKILL'))
  let out = ''
  workers.stdout.on('data', (d) => (out += d))
  workers.stderr.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((r) => workers.once('exit', (code) => r(code)))
  await eventually(() => out.includes('Ctrl-C stops') || undefined, `the workers started; output:\n${out}`, 60_000)
  assert.match(out, new RegExp(`workers of ${name} on kafka .* \\(SASL_SSL, SCRAM-SHA-256 as ofa\\)`))
  workers.kill('SIGTERM')
  serve.child.kill('SIGTERM')
  const stopped = (p: Promise<number | null>, what: () => string) =>
    Promise.race([
      p,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`not stopped in 30 s:\n${what()}`)), 30_000)),
    ])
  assert.equal(await stopped(exited, () => out), 0, out)
  assert.equal(await stopped(serve.exited, serve.output), 0, serve.output())
  assert.doesNotMatch(out + serve.output(), new RegExp(c.sasl.password))
})

test('ofa apply --swarm over SASL_SSL: the services get the settings as flags, the password and CA as secrets', {
  timeout: 900_000,
}, async (t) => {
  const c = await kafka()
  const host = await dockerHost()
  const run = randomBytes(4).toString('hex')
  const image = `ofa-test/ofa:sasl-${run}`
  const built = await ofa(['image', 'build', '--tag', image, '--docker-host', host])
  assert.equal(built.code, 0, built.stderr)
  t.after(() => docker(['image', 'rm', image]))
  const stack = `ofa-sasl-${run}`
  removeStackAfter(t, stack)
  const root = await tempDir(t, 'ofa-sasl-swarm-')
  const dir = join(root, 'factory')
  await mkdir(dir)
  const port = await freePort()
  const uuid = `SASL-SIM-${run}`.toUpperCase()
  await writeFile(join(dir, 'factory.yaml'), `name: ${stack}\n`)
  await writeFile(
    join(dir, 'devices.yml'),
    `devices:\n  sim:\n    uuid: ${uuid}\n    connector:\n      type: simulator\n      interval_ms: 500\n      items:\n        temp: {tag: Temperature, category: Samples, units: CELSIUS, signal: sine}\n`,
  )
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:\n  serve:\n    uuid: OFA-SERVE\n    image: openfactory/serve\n    routing: {port: ${port}}\n`,
  )
  const flags = [
    ...(await saslFlags()),
    '--stack',
    stack,
    '--image',
    image,
    '--docker-host',
    host,
    '--state-dir',
    join(root, 'state'),
    '--timeout',
    '240',
  ]
  const env = { OFA_KAFKA_PASSWORD: c.sasl.password }
  const applied = await ofa(['apply', dir, '--swarm', ...flags], { env })
  assert.equal(applied.code, 0, `${applied.stderr}\n${applied.stdout}`)
  assert.match(applied.stdout, /^deployment 1: \+\d+ ~0 -0, 2 service\(s\) ready\n$/)
  // The device's service wrote over SASL_SSL, the serving app read it over SASL_SSL.
  await eventually(
    async () =>
      (await getJson(`http://127.0.0.1:${port}/api/assets/${uuid}`)).availability === 'AVAILABLE' || undefined,
    'the simulated device available through the stack serving app',
    120_000,
  )
  const spec = await dockerOk(['service', 'inspect', `${stack}_${serviceName('device', uuid)}`])
  assert.match(spec, /"--kafka-security-protocol",\s*"SASL_SSL"/)
  assert.match(spec, /"--kafka-ca",\s*"\/run\/secrets\/ofa-kafka-ca.pem"/)
  assert.match(spec, /"ofa-env-OFA_KAFKA_PASSWORD"/)
  assert.doesNotMatch(spec + applied.stdout + applied.stderr, new RegExp(c.sasl.password))
  const status = await ofa(['status', dir, ...flags], { env })
  assert.equal(status.code, 0, status.stdout + status.stderr)
  const history = await ofa(['history', dir, ...(await saslFlags()), '--json'], { env })
  assert.equal(history.code, 0, history.stderr)
  assert.deepEqual(
    JSON.parse(history.stdout).deployments.map((d: { outcome: string; by: string }) => [d.outcome, d.by]),
    [['applied', 'ofa apply --swarm']],
  )
})
