// The README's "Into PostgreSQL, with alerts and webhooks" end to end: examples/enterprise-factory (the demo's
// machines with a historian, alerts and a webhook) under `ofa up`, with the example's own webhook receiver in a
// process of its own and a fresh database of the test's PostgreSQL (scripts/postgres.ts, started by the test
// command). The demo's spindle load crosses 75 % for about 20 s every 90 s: the alert is raised, delivered signed
// (the receiver checks the signature and prints it), acknowledged through the API, and the machines' observations
// are rows of PostgreSQL.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freshDatabase, sharedPg } from '../../historian/test/helpers.ts'
import { eventually, freePort, getJson, groupAlive, startOfa, tempDir } from './helpers.ts'

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url))
const CNC = 'DEMO-CNC-SIM-001'

test('the enterprise example: observations into PostgreSQL, an alert raised, signed to a webhook, acknowledged', {
  timeout: 360_000,
}, async (t) => {
  // The example and the demo it includes (../demo-factory), side by side, the demo's replay adapter on a free port.
  const root = await tempDir(t, 'ofa-enterprise-')
  await cp(join(EXAMPLES, 'demo-factory'), join(root, 'demo-factory'), {
    recursive: true,
    filter: (src) => !src.includes('.ofa-data'),
  })
  const adapter = join(root, 'demo-factory', 'devices', 'cnc-mtconnect.yml')
  await writeFile(adapter, (await readFile(adapter, 'utf8')).replace('port: 7878', `port: ${await freePort()}`))
  const dir = join(root, 'enterprise-factory')
  await cp(join(EXAMPLES, 'enterprise-factory'), dir, { recursive: true })

  const secret = `s-${process.pid}`
  const port = await freePort()
  const receiver = spawn(process.execPath, [join(dir, 'webhook-receiver.ts'), '--port', String(port)], {
    env: { ...process.env, OFA_WEBHOOK_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let printed = ''
  receiver.stdout.on('data', (d: Buffer) => (printed += d.toString()))
  receiver.stderr.on('data', (d: Buffer) => (printed += d.toString()))
  t.after(() => {
    if (receiver.pid && groupAlive(receiver.pid)) process.kill(-receiver.pid, 'SIGKILL')
  })
  await eventually(() => (/webhook receiver on/.test(printed) ? true : undefined), 'the receiver listening', 30_000)

  const pg = await sharedPg()
  const db = await freshDatabase(t)
  const up = startOfa(t, ['up', dir, '--port', '0', '--data', join(root, 'data')], {
    OFA_PG_URL: db.url,
    OFA_PG_PASSWORD: pg.password,
    OFA_WEBHOOK_URL: `http://127.0.0.1:${port}/openfactory`,
    OFA_WEBHOOK_SECRET: secret,
  })
  const api = `${await up.url}/api`

  // Raised (a heavy cut within 90 s of the start), delivered, signature checked by the receiver.
  await eventually(
    () => (new RegExp(`warning +raised +${CNC} spindle_overload: Spindle overloaded`).test(printed) ? true : undefined),
    'the alert raised and delivered to the webhook',
    200_000,
  )
  assert.doesNotMatch(printed, /refused a delivery/)
  const open = await getJson(`${api}/alerts`)
  assert.ok(
    open.items.some((a: { asset: string; rule: string }) => a.asset === CNC && a.rule === 'spindle_overload'),
    JSON.stringify(open),
  )
  const ack = await fetch(`${api}/alerts/${CNC}/spindle_overload/ack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
  })
  assert.ok(ack.status === 200 || ack.status === 202, `ack: ${ack.status}`)
  await eventually(
    () => (new RegExp(`acknowledged +${CNC} spindle_overload`).test(printed) ? true : undefined),
    'the acknowledgement delivered',
    60_000,
  )

  // The machines in PostgreSQL: rows of the narrow table, the current state, the assets with their UNS levels.
  const rows = await eventually(
    async () => {
      const r = await db.client.query(
        "SELECT count(*)::int AS n FROM openfactory.observations WHERE asset = $1 AND item = 'spindle_load'",
        [CNC],
      )
      return (r.rows[0] as { n: number }).n >= 10 ? (r.rows[0] as { n: number }).n : undefined
    },
    'spindle_load rows in PostgreSQL',
    60_000,
  )
  assert.ok(rows >= 10)
  const condition = await eventually(
    async () => {
      const r = await db.client.query(
        "SELECT value_text FROM openfactory.current_state WHERE asset = $1 AND item = 'alert_spindle_overload'",
        [CNC],
      )
      return (r.rows[0] as { value_text: string } | undefined)?.value_text
    },
    'the alert, an observation of the machine, in PostgreSQL too',
    60_000,
  )
  assert.match(condition, /^(WARNING|NORMAL)$/)
  const asset = await db.client.query('SELECT uns_id FROM openfactory.assets WHERE asset = $1', [CNC])
  assert.match(String((asset.rows[0] as { uns_id?: string } | undefined)?.uns_id), /Machining/)

  up.child.kill('SIGTERM')
  assert.equal(await up.exited, 0, up.output())
})
