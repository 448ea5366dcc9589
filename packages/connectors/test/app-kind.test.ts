// The registry of built-in app kinds (app-kind.ts) and the rules model's app schema keeps for their blocks: an app
// with a registered block is planned by its kind, checked by `checkAppKinds`, and needs no image or command.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { type AppConfig, isOpenFactoryError, loadFactory } from '@openfactory/model'
import {
  type AppKindDeps,
  appConfigError,
  appKindBlocks,
  appKindOf,
  checkAppKinds,
  planApp,
  registerAppKind,
} from '../src/app-kind.ts'

async function apps(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-app-kind-'))
  try {
    writeFileSync(join(dir, 'factory.yaml'), 'name: kinds\nbackbone:\n  type: embedded\n')
    writeFileSync(join(dir, 'apps.yml'), yaml)
    return await loadFactory([dir])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('an app with a built-in block is its kind: parsed, created, checked; one block, no image or command', async () => {
  // A kind of this test's own, on a block model knows (the real ones register from their packages).
  const block = 'webhooks'
  if (!appKindBlocks().includes(block)) {
    registerAppKind<{ ok: boolean }>({
      block,
      summary: 'test kind',
      parse: (app) => {
        if (app.uuid === 'BAD') throw appConfigError(app, `${block}.url`, 'no host')
        return { ok: true }
      },
      create: (app, config) => ({
        name: `${app.uuid}:${String(config.ok)}`,
        start: async () => {},
        stop: async () => {},
      }),
    })
  }
  assert.throws(() => registerAppKind({ block, summary: '', parse: () => 0, create: () => ({}) as never }), /twice/)
  const factory = await apps(`apps:\n  a:\n    uuid: HOOKS\n    webhooks: {}\n  b:\n    uuid: BAD\n    webhooks: {}\n`)
  const [good] = factory.apps as [AppConfig, AppConfig]
  assert.equal(appKindOf(good)?.block, block)
  const deps = { eventLog: {} as EventLog, factory, env: {}, logger: console } as unknown as AppKindDeps
  assert.equal(planApp(good, deps)?.name, 'HOOKS:true')
  const problems = checkAppKinds(factory.apps)
  assert.equal(problems.length, 1)
  assert.equal(problems[0]?.code, 'OFA_CONFIG_VALUE')
  assert.match(problems[0]?.format() ?? '', /apps\.yml:5:3: OFA_CONFIG_VALUE app BAD: webhooks\.url: no host$/)
  assert.equal(problems[0]?.where?.path, 'apps.b.webhooks.url')

  for (const [yaml, re] of [
    ['    webhooks: {}\n    image: acme/x:1\n', /a webhooks app is ours to run: it takes no image/],
    ['    webhooks: {}\n    command: [x]\n', /it takes no command/],
    [
      '    webhooks: {}\n    historian: {url: "postgres://db/f"}\n',
      /an app is one built-in app: historian and webhooks are both given/,
    ],
    ['    uns: {area: A}\n', /or one of our built-in blocks \(historian, alerts, webhooks, mqtt_publish\)/],
  ] as const) {
    await assert.rejects(apps(`apps:\n  a:\n    uuid: X\n${yaml}`), (err) => {
      assert.ok(isOpenFactoryError(err))
      assert.match(err.problems.map((p) => p.format()).join('\n'), re)
      return true
    })
  }
})
