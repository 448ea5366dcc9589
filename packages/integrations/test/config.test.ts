// The blocks as `ofa validate` and `ofa up` judge them: model's schema (shape, `expected:` texts) and each kind's
// `parse` (what the schema cannot know), with file, line and field; and which observations a selection takes.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { checkAppKinds } from '@openfactory/connectors'
import { encodeObservation, isOpenFactoryError } from '@openfactory/model'
import { ObservationSelector, parseWebhooks } from '../src/index.ts'
import { DEVICES_YAML, FACTORY_YAML, UNS_YAML } from './fixtures.ts'
import { testFactory } from './helpers.ts'

test('webhooks and mqtt_publish blocks: defaults, and every problem with its place', async (t) => {
  const ok = await testFactory(t, {
    'apps.yml': `apps:\n  h:\n    uuid: H\n    webhooks:\n      mes: {url: 'https://mes.example.com/x', secret_env: S, alerts: {severity: [critical]}}\n`,
  })
  const cfg = parseWebhooks(ok.apps[0]!)
  assert.deepEqual(
    { ...cfg.webhooks[0], alerts: undefined },
    {
      name: 'mes',
      url: 'https://mes.example.com/x',
      secret: { env: 'S' },
      alerts: undefined,
      headers: {},
      maxAttempts: 6,
      backoffMs: 500,
      maxBackoffMs: 30_000,
      timeoutMs: 10_000,
      queueMax: 1000,
      concurrency: 4,
    },
  )
  const bad = await testFactory(t, {
    'apps.yml': [
      'apps:',
      '  h:',
      '    uuid: H',
      '    webhooks:',
      '      a: {url: "http://x/y", alerts: {}}',
      '      b: {url: "http://x/y", secret_env: S, secret_file: f}',
      '      c: {url: "http://x/y", secret_env: S, backoff_ms: 100, max_backoff_ms: 10, observations: {assets: [M]}, headers: {X-OpenFactory-Delivery: x}}',
      '  p:',
      '    uuid: P',
      '    mqtt_publish: {url: "mqtt://127.0.0.1:1", password: a, password_env: B, observations: {}}',
      '',
    ].join('\n'),
  })
  const problems = checkAppKinds(bad.apps).map((p) => p.format())
  assert.equal(problems.length, 7, problems.join('\n'))
  const text = problems.join('\n')
  assert.match(text, /app H: webhooks\.a: give the secret that signs deliveries: secret_env or secret_file, one/)
  assert.match(text, /app H: webhooks\.b: give the secret/)
  assert.match(text, /app H: webhooks\.b: selects nothing/)
  assert.match(text, /app H: webhooks\.c\.max_backoff_ms: is less than backoff_ms \(100\)/)
  assert.match(text, /webhooks\.c\.headers\.X-OpenFactory-Delivery: is set by the webhook itself/)
  assert.match(text, /app P: mqtt_publish\.password_env: give password or password_env, not both/)
  assert.match(text, /app P: mqtt_publish\.observations: selects nothing/)
  assert.match(problems[0] ?? '', /apps\.yml:\d+:\d+: OFA_CONFIG_VALUE/)

  // The schema's own checks, at load.
  await assert.rejects(
    testFactory(t, {
      'apps.yml': 'apps:\n  h:\n    uuid: H\n    webhooks:\n      mes: {url: ftp://x, secret_env: S, alerts: {}}\n',
    }),
    (err) =>
      isOpenFactoryError(err) &&
      /a URL like https:\/\/mes\.example\.com/.test(err.problems.map((p) => p.format()).join('\n')),
  )
  await assert.rejects(
    testFactory(t, {
      'apps.yml':
        'apps:\n  h:\n    uuid: H\n    webhooks:\n      mes: {url: "http://x", secret_env: S, alerts: {}, queue_max: 0}\n',
    }),
    (err) => isOpenFactoryError(err) && /queue_max/.test(err.problems.map((p) => p.format()).join('\n')),
  )
})

test('a selection takes assets, items and UNS patterns, values of data items only, never the app itself', async (t) => {
  const factory = await testFactory(t, {
    'factory.yaml': FACTORY_YAML,
    'uns.yml': UNS_YAML,
    'devices.yml': DEVICES_YAML,
  })
  const rec = (id: string, type = 'Samples') =>
    Buffer.from(
      encodeObservation({
        id,
        value: 1,
        tag: 'T',
        type: type as 'Samples',
        attributes: { timestamp: '2026-01-01T00:00:00.000Z' },
      }),
    )
  const key = (k: string) => Buffer.from(k)
  const byUns = new ObservationSelector({ uns: ['Acme/+/Stamping/#'] }, factory, 'SELF')
  assert.equal(byUns.select(key('PRESS-1'), rec('force'))?.uns?.unsId, 'Acme/Lyon/Stamping/L1/press-1')
  assert.equal(byUns.select(key('OTHER-1'), rec('temp')), null)
  assert.equal(byUns.select(key('PRESS-1'), rec('avail', 'Events')), null, 'availability is not a value')
  const item = new ObservationSelector({ uns: ['Acme/Lyon/Stamping/L1/press-1/force'] }, factory, 'SELF')
  assert.ok(item.select(key('PRESS-1'), rec('force')))
  assert.equal(item.select(key('PRESS-1'), rec('mode')), null)
  const listed = new ObservationSelector({ assets: ['OTHER-1', 'SELF'], items: ['temp'] }, factory, 'SELF')
  assert.ok(listed.select(key('OTHER-1'), rec('temp')))
  assert.equal(listed.select(key('OTHER-1'), rec('x')), null)
  assert.equal(listed.select(key('SELF'), rec('temp')), null)
  const everyAsset = new ObservationSelector({ items: ['temp'] }, factory, 'SELF')
  assert.ok(everyAsset.select(key('ANY-9'), rec('temp')))
  assert.equal(everyAsset.select(key('ANY-9'), Buffer.from('not json')), null)
})

test('the examples of docs/reference/apps.md (Webhooks, MQTT publish), as written there, load and parse', async (t) => {
  const md = readFileSync(new URL('../../../docs/reference/apps.md', import.meta.url), 'utf8')
  for (const [section, block] of [
    ['## Webhooks', 'webhooks'],
    ['## MQTT publish', 'mqtt_publish'],
  ] as const) {
    const example = new RegExp(`${section}\\n[\\s\\S]*?\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(md)?.[1]
    assert.ok(example, section)
    const factory = await testFactory(t, { 'apps.yml': example })
    const app = factory.apps[0]!
    assert.ok(app.spec[block], block)
    // The files the examples name (tls.ca) are not here: only that problem may be reported.
    const problems = checkAppKinds([app]).map((p) => p.format())
    assert.deepEqual(
      problems.filter((p) => !/cannot read certs\/ca\.pem/.test(p)),
      [],
    )
  }
})
