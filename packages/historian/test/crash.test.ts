// Exactly once across crashes: the historian runs in a process of its own (fixtures/run-historian.ts) and is killed
// with SIGKILL between its COPY and its COMMIT (the fixture's HistorianTestHooks.beforeCommit), then killed
// again by the test while batches flow; after each restart it resumes from the offsets it committed. Every record
// of the log lands exactly once, and at every point what is stored is exactly the records below the stored offsets.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { ProducerRecord } from '@openfactory/log'
import { TOPICS } from '@openfactory/model'
import type pg from 'pg'
import {
  eventually,
  factoryLog,
  freshDatabase,
  historianFactory,
  sample,
  scalar,
  sharedPg,
  tempDir,
} from './helpers.ts'

const RUNNER = fileURLToPath(new URL('./fixtures/run-historian.ts', import.meta.url))
const ASSETS = ['M-1', 'M-2', 'M-3', 'M-4']

function records(from: number, to: number): ProducerRecord[] {
  const out: ProducerRecord[] = []
  for (let i = from; i < to; i++) for (const a of ASSETS) out.push(sample(a, i))
  return out
}

function historian(dir: string, logDir: string, env: Record<string, string>, killAt?: number) {
  const child = spawn(process.execPath, [RUNNER, dir, logDir, ...(killAt === undefined ? [] : [String(killAt)])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (out += d))
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  )
  return { child, exited, output: () => out }
}

/** What is stored per log partition agrees with the committed offsets: the records below them, each once. */
async function consistent(c: pg.Client): Promise<void> {
  const stored = (
    await c.query(
      `SELECT log_partition AS p, count(*)::int AS n, count(DISTINCT log_offset)::int AS d, coalesce(max(log_offset) + 1, 0)::int AS top
       FROM openfactory.observations GROUP BY 1 ORDER BY 1`,
    )
  ).rows as { p: number; n: number; d: number; top: number }[]
  const offsets = new Map(
    (
      await c.query(`SELECT log_partition AS p, next_offset::int AS o FROM openfactory.log_offsets WHERE topic = $1`, [
        TOPICS.assets,
      ])
    ).rows.map((r) => [r.p as number, r.o as number]),
  )
  for (const s of stored) {
    assert.equal(s.n, s.d, `partition ${s.p}: no offset twice`)
    assert.equal(s.n, s.top, `partition ${s.p}: no gap below the highest offset stored`)
    assert.equal(offsets.get(s.p), s.top, `partition ${s.p}: the committed offset is right after what is stored`)
  }
}

function killed(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

test('killed with SIGKILL between COPY and COMMIT, and again while batches flow: every observation lands exactly once', async (t) => {
  const dir = await tempDir(t)
  const server = await sharedPg()
  const db = await freshDatabase(t)
  const logDir = `${dir}/log`
  const log = await factoryLog(t, logDir)
  const factory = await historianFactory(dir, `url: ${db.url}\npassword_env: PW\nbatch_rows: 500\nbatch_ms: 20`)
  assert.equal(factory.apps.length, 1)
  await log.append(TOPICS.assets, records(0, 1500))
  const env = { PW: server.password }
  const count = () => scalar(db.client, `SELECT count(*) FROM openfactory.observations`)

  // 1. The hook kills it in its third batch of observations, after every statement and before COMMIT.
  const first = historian(dir, logDir, env, 3)
  t.after(() => killed(first.child))
  assert.equal(await first.exited, 'SIGKILL', first.output())
  const afterCrash = await count()
  assert.ok(afterCrash > 0 && afterCrash < 6000, `two batches committed, the third not (${afterCrash} rows)`)
  await consistent(db.client)

  // 2. While it is down, more records; then it runs again while more arrive, and is killed mid-stream.
  await log.append(TOPICS.assets, records(1500, 2000))
  const second = historian(dir, logDir, env)
  t.after(() => killed(second.child))
  const more = (async () => {
    for (let i = 2000; i < 2500; i += 50) {
      await log.append(TOPICS.assets, records(i, i + 50))
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  await eventually(async () => (await count()) > afterCrash, 'the second run writing')
  second.child.kill('SIGKILL')
  assert.equal(await second.exited, 'SIGKILL')
  await more
  await consistent(db.client)

  // 3. Once more, to the end: 10 000 observations, each once.
  const third = historian(dir, logDir, env)
  t.after(() => killed(third.child))
  await eventually(async () => (await count()) === 10_000, 'all 10 000 observations', 60_000)
  third.child.kill('SIGTERM')
  assert.equal(await third.exited, 0, third.output())
  await consistent(db.client)
  const perAsset = (
    await db.client.query(
      `SELECT asset, count(*)::int AS n, count(DISTINCT value_num)::int AS d, min(value_num) AS lo, max(value_num) AS hi
       FROM openfactory.observations GROUP BY asset ORDER BY asset`,
    )
  ).rows
  assert.deepEqual(
    perAsset,
    ASSETS.map((asset) => ({ asset, n: 2500, d: 2500, lo: 0, hi: 2499 })),
  )
  assert.equal(
    await scalar(db.client, `SELECT sum(next_offset) FROM openfactory.log_offsets WHERE topic = $1`, [TOPICS.assets]),
    10_000,
  )
})
