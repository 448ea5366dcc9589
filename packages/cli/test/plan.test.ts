// ofa plan and ofa history: the factory's files diffed against the deployments ofa up records on the log.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { silentLogger } from '@openfactory/model'
import { fieldChanges, formatPlan, planChanges } from '../src/deploy/plan.ts'
import type { FactoryState } from '../src/deploy/state.ts'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { demoCopy, ofa, tempDir } from './helpers.ts'

test('planChanges: creations and updates in kind order, deletions last in reverse order, every changed field', () => {
  const before: FactoryState = {
    resources: [
      { kind: 'topic', name: 'ofa_assets', fields: { partitions: 6 } },
      { kind: 'connector', name: 'M1', fields: { type: 'simulator', interval_ms: 500, items: { a: { units: 'C' } } } },
      { kind: 'sql', name: 'OLD', fields: { statement: 'x' } },
      { kind: 'app', name: 'gone', fields: {} },
    ],
  }
  const after: FactoryState = {
    resources: [
      { kind: 'topic', name: 'extra', fields: { partitions: 1 } },
      { kind: 'topic', name: 'ofa_assets', fields: { partitions: 6 } },
      {
        kind: 'connector',
        name: 'M1',
        fields: { type: 'simulator', interval_ms: 250, items: { a: { units: 'F' }, b: { units: 'C' } } },
        where: 'devices/m1.yml:3',
      },
    ],
  }
  const plan = planChanges(after, before)
  assert.deepEqual(plan.summary, { create: 1, update: 1, delete: 2 })
  assert.deepEqual(
    plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`),
    ['create topic extra', 'update connector M1', 'delete app gone', 'delete sql OLD'],
  )
  const update = plan.changes[1]
  assert.equal(update?.action, 'update')
  assert.deepEqual(update?.action === 'update' ? update.fields : [], [
    { field: 'interval_ms', from: 500, to: 250 },
    { field: 'items.a.units', from: 'C', to: 'F' },
    { field: 'items.b', to: { units: 'C' } },
  ])
  assert.equal(
    formatPlan(plan),
    [
      '+ topic extra',
      '~ connector M1  (devices/m1.yml:3)',
      '    interval_ms: 500 → 250',
      '    items.a.units: "C" → "F"',
      '    items.b: (none) → {"units":"C"}',
      '- app gone',
      '- sql OLD',
      '',
      'Plan: 1 to create, 1 to update, 2 to delete.',
      '',
    ].join('\n'),
  )
  assert.deepEqual(planChanges(after, after).changes, [])
  assert.equal(formatPlan(planChanges(after, after)), 'No changes: the deployment matches the files.\n')
  assert.deepEqual(fieldChanges([1, 2], [1, 2]), [])
  assert.deepEqual(fieldChanges([1, 2], [2, 1]), [{ field: '', from: [1, 2], to: [2, 1] }])
})

test('ofa up records a deployment when its files changed; ofa plan shows the one change; ofa history lists them', async (t) => {
  const dir = await demoCopy(t)
  const data = join(await tempDir(t, 'ofa-plan-data-'), 'data')
  const start = () => startLocalRuntime({ paths: [dir], dataDir: data, port: 0, logger: silentLogger })

  const before = await ofa(['plan', dir, '--data', data], { cwd: dir })
  assert.equal(before.code, 0, before.stderr)
  assert.match(before.stdout, /against nothing deployed yet/)
  assert.match(before.stdout, /\+ connector DEMO-CNC-SIM-001 {2}\(devices\/cnc-simulated\.yml:\d+\)/)

  let rt = await start()
  assert.equal(rt.deployment?.seq, 1)
  assert.equal(rt.deployment?.by, 'ofa up')
  assert.ok((rt.deployment?.summary.create ?? 0) >= 20, `${rt.deployment?.summary.create} resources`)
  // ofa plan beside the running ofa up (the embedded log opened read-only): nothing to change.
  const same = await ofa(['plan', dir, '--data', data], { cwd: dir })
  assert.equal(same.code, 0, same.stderr)
  assert.match(same.stdout, /against deployment 1 of /)
  assert.match(same.stdout, /No changes/)
  await rt.stop()

  const file = join(dir, 'devices', 'cnc-simulated.yml')
  const text = await readFile(file, 'utf8')
  assert.match(text, /interval_ms: 500/)
  await writeFile(file, text.replace('interval_ms: 500', 'interval_ms: 250'))
  const changed = await ofa(['plan', dir, '--data', data], { cwd: dir })
  assert.match(changed.stdout, /~ connector DEMO-CNC-SIM-001 .*\n {4}interval_ms: 500 → 250\n/)
  assert.match(changed.stdout, /Plan: 0 to create, 1 to update, 0 to delete\./)
  const json = JSON.parse((await ofa(['plan', dir, '--data', data, '--json'], { cwd: dir })).stdout)
  assert.equal(json.against, 1)
  assert.deepEqual(json.changes, [
    {
      action: 'update',
      kind: 'connector',
      name: 'DEMO-CNC-SIM-001',
      where: json.changes[0].where,
      fields: [{ field: 'interval_ms', from: 500, to: 250 }],
    },
  ])

  rt = await start()
  assert.equal(rt.deployment?.seq, 2)
  assert.deepEqual(rt.deployment?.summary, { create: 0, update: 1, delete: 0 })
  await rt.stop()
  rt = await start()
  assert.equal(rt.deployment, null, 'the same files again: no new deployment')
  await rt.stop()

  // Each deployment is on the audit trail too, with who made it.
  const audit = JSON.parse((await ofa(['audit', dir, '--data', data, '--json'], { cwd: dir })).stdout)
  const deployed = audit.items.filter((a: { kind: string }) => a.kind === 'deployment')
  assert.deepEqual(
    deployed.map((a: { action: string; target: string; outcome: string }) => [a.action, a.target, a.outcome]),
    [
      ['ofa up', `${json.factory}/1`, 'applied'],
      ['ofa up', `${json.factory}/2`, 'applied'],
    ],
  )
  assert.match(deployed[0].who, /^cli:\S+@\S+$/)

  const history = await ofa(['history', dir, '--data', data], { cwd: dir })
  assert.equal(history.code, 0, history.stderr)
  assert.match(history.stdout, /2 deployment\(s\)/)
  assert.match(history.stdout, / {3}2 {2}\S+ {2}applied {2}\+0 ~1 -0 {2}by ofa up/)
  const list = JSON.parse((await ofa(['history', dir, '--data', data, '--json'], { cwd: dir })).stdout)
  assert.deepEqual(
    list.deployments.map((d: { seq: number; outcome: string }) => [d.seq, d.outcome]),
    [
      [1, 'applied'],
      [2, 'applied'],
    ],
  )
})

test('ofa plan refuses what could not be deployed, before anything changes, naming file, line and field', async (t) => {
  const dir = await tempDir(t, 'ofa-plan-bad-')
  const data = join(dir, '.data')
  await writeFile(join(dir, 'factory.yaml'), 'name: bad\n')
  const sim = (uuid: string) =>
    `  ${uuid.toLowerCase()}:\n    uuid: ${uuid}\n    connector:\n      type: simulator\n      items:\n        t: {tag: Temperature, category: Samples, units: CELSIUS}\n`
  const plan = () => ofa(['plan', dir, '--data', data])

  // Two devices with one uuid, in two files.
  await writeFile(join(dir, 'a.yml'), `devices:\n${sim('M-1')}`)
  await writeFile(
    join(dir, 'b.yml'),
    `devices:\n${sim('M-2')}  other:\n    uuid: M-1\n    connector:\n      type: simulator\n      items:\n        t: {tag: Temperature, category: Samples, units: CELSIUS}\n`,
  )
  let r = await plan()
  assert.equal(r.code, 1)
  assert.match(r.stderr, /M-1/)
  assert.match(r.stderr, /a\.yml:\d+/)
  assert.match(r.stderr, /b\.yml:\d+/)
  await writeFile(join(dir, 'b.yml'), `devices:\n${sim('M-2')}`)

  // Two serving apps on one port.
  const app = (uuid: string, port: number) =>
    `  ${uuid.toLowerCase()}:\n    uuid: ${uuid}\n    image: openfactory/serve\n    routing:\n      port: ${port}\n`
  await writeFile(join(dir, 'apps.yml'), `apps:\n${app('SERVE-A', 8080)}${app('SERVE-B', 8080)}`)
  r = await plan()
  assert.equal(r.code, 1)
  assert.match(
    r.stderr,
    /apps\.yml:7:3: OFA_DEPLOY_PORT_CLASH apps\.serve-b\.routing\.port: app SERVE-B and app SERVE-A both listen on port 8080/,
  )
  await writeFile(join(dir, 'apps.yml'), `apps:\n${app('SERVE-A', 8080)}`)

  // A placement on a node label no node of the infrastructure file has.
  await writeFile(
    join(dir, 'infra.yml'),
    'nodes:\n  managers:\n    m1:\n      ip: 10.0.0.10\n      labels: {zone: a}\n',
  )
  await writeFile(
    join(dir, 'c.yml'),
    `devices:\n${sim('M-3')}    deploy:\n      placement:\n        constraints: ["node.labels.zone == b"]\n`,
  )
  r = await plan()
  assert.equal(r.code, 1)
  assert.match(r.stderr, /OFA_DEPLOY_PLACEMENT/)
  assert.match(r.stderr, /c\.yml:2/)
  assert.match(r.stderr, /devices\.m-3\.deploy\.placement\.constraints/)
  await writeFile(
    join(dir, 'c.yml'),
    `devices:\n${sim('M-3')}    deploy:\n      placement:\n        constraints: ["node.labels.zone == a"]\n`,
  )

  // An invalid config: placed by the loader.
  await writeFile(
    join(dir, 'd.yml'),
    'devices:\n  x:\n    uuid: M-4\n    connector:\n      type: simulator\n      interval_ms: fast\n',
  )
  r = await plan()
  assert.equal(r.code, 1)
  assert.match(r.stderr, /d\.yml:6:\d+: OFA_CONNECTOR_CONFIG devices\.x\.connector\.interval_ms/)
  await writeFile(join(dir, 'd.yml'), 'devices: {}\n')

  r = await plan()
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /Plan: \d+ to create, 0 to update, 0 to delete\./)
})
