// A processor killed with SIGKILL mid-stream, several times, then run to the end: its output is what one
// uninterrupted run gives — every running total once, in order, none missing (task.ts's protocol).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { kafka, openTestLog } from '../../../log-kafka/test/helpers.ts'
import { readTopic, uniqueTopic, until } from './helpers.ts'

const CHILD = new URL('./fixtures/totals-child.ts', import.meta.url).pathname
const RECORDS = 20_000
const KEYS = 13

/** Starts the child in its own process group; resolves once its processor is ready. */
async function startChild(
  t: TestContext,
  env: Record<string, string>,
): Promise<{ pid: number; exited: Promise<void>; partitions: () => number[] }> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  })
  const pid = child.pid as number
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  t.after(() => {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {}
  })
  // Group mode: the child prints `partitions <list>` whenever the partitions it runs change.
  let partitions: number[] = []
  child.stdout?.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/^partitions ([\d,]*)$/gm)) {
      partitions = m[1] ? m[1].split(',').map(Number) : []
    }
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready`)))
  })
  return { pid, exited, partitions: () => partitions }
}

function assertExactlyOnce(records: Awaited<ReturnType<typeof readTopic>>): void {
  const byKey = new Map<string, number[]>()
  for (const r of records) {
    const k = r.key?.toString() ?? ''
    const list = byKey.get(k) ?? []
    list.push((JSON.parse(r.value?.toString() ?? '{}') as { count: number }).count)
    byKey.set(k, list)
  }
  assert.equal(byKey.size, KEYS)
  for (const [k, list] of byKey) {
    assert.deepEqual(
      list,
      list.map((_, i) => i + 1),
      `${k}: 1..n, each once`,
    )
  }
  assert.equal(records.length, RECORDS)
}

async function killAndResume(
  t: TestContext,
  env: Record<string, string>,
  withLog: <T>(fn: (log: EventLog) => Promise<T>) => Promise<T>,
): Promise<void> {
  const input = uniqueTopic('kill-in')
  const output = uniqueTopic('kill-out')
  const vars = { ...env, OFA_TEST_INPUT: input, OFA_TEST_OUTPUT: output, OFA_TEST_ID: uniqueTopic('kill') }
  const t0 = Date.now()
  await withLog(async (log) => {
    await log.createTopic({ name: input, partitions: 3 })
    await log.createTopic({ name: output, partitions: 3 })
    for (let i = 0; i < RECORDS; i += 1000) {
      await log.append(
        input,
        Array.from({ length: 1000 }, (_, j) => ({
          key: `k${(i + j) % KEYS}`,
          value: String(i + j),
          timestamp: t0 + i + j,
        })),
      )
    }
  })
  let midStream = 0
  let outputs = 0
  for (let round = 0; round < 4; round++) {
    const child = await startChild(t, vars)
    await new Promise((r) => setTimeout(r, 100 + round * 150))
    process.kill(-child.pid, 'SIGKILL')
    await child.exited
    outputs = await withLog(async (log) => (await readTopic(log, output)).length)
    if (outputs > 0 && outputs < RECORDS) midStream++
    if (outputs >= RECORDS) break
  }
  assert.ok(midStream >= 1, 'at least one kill came while the outputs were being written')
  const last = await startChild(t, vars)
  await withLog(async (log) => {
    await until(async () => (await readTopic(log, output)).length >= RECORDS, 'every output', 60_000)
  })
  process.kill(-last.pid, 'SIGTERM')
  await last.exited
  await withLog(async (log) => assertExactlyOnce(await readTopic(log, output)))
}

describe('a processor killed with SIGKILL resumes with no output lost and none twice', () => {
  test('on the embedded log', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-kill-'))
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    // The embedded log has one owner: the test opens it only while the child is not running it... except the
    // wait for the last run, which reads through a read-only view.
    const withLog = async <T>(fn: (log: EventLog) => Promise<T>): Promise<T> => {
      let log: EventLog
      try {
        log = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
      } catch {
        log = await openEmbeddedLog({ dir, readOnly: true })
      }
      try {
        return await fn(log)
      } finally {
        await log.close()
      }
    }
    await killAndResume(t, { OFA_TEST_LOG_DIR: dir }, withLog)
  })

  test('on Kafka', async (t) => {
    const cluster = await kafka()
    const log = await openTestLog(t)
    await killAndResume(t, { OFA_TEST_BOOTSTRAP: cluster.bootstrap }, (fn) => fn(log))
  })

  test('on Kafka, two processes sharing the partitions through a consumer group: one killed, the other goes on', async (t) => {
    const cluster = await kafka()
    const log = await openTestLog(t)
    const input = uniqueTopic('kill-in')
    const output = uniqueTopic('kill-out')
    await log.createTopic({ name: input, partitions: 4 })
    await log.createTopic({ name: output, partitions: 4 })
    const vars = {
      OFA_TEST_BOOTSTRAP: cluster.bootstrap,
      OFA_TEST_INPUT: input,
      OFA_TEST_OUTPUT: output,
      OFA_TEST_ID: uniqueTopic('kill-group'),
      OFA_TEST_ASSIGNMENT: 'group',
      OFA_TEST_FENCE_MS: '500',
      OFA_TEST_SESSION_MS: '3000',
    }
    const t0 = Date.now()
    const append = (from: number, n: number) =>
      log.append(
        input,
        Array.from({ length: n }, (_, j) => ({
          key: `k${(from + j) % KEYS}`,
          value: String(from + j),
          timestamp: t0 + from + j,
        })),
      )
    for (let i = 0; i < RECORDS / 2; i += 1000) await append(i, 1000)
    const one = await startChild(t, vars)
    const two = await startChild(t, vars)
    const owned = () => `first [${one.partitions().join(',')}], second [${two.partitions().join(',')}]`
    await until(
      () =>
        one.partitions().length > 0 &&
        two.partitions().length > 0 &&
        one.partitions().length + two.partitions().length === 4,
      'each process with some partitions, together all',
      30_000,
      owned,
    )
    // The second half arrives while the first process is killed.
    const feeding = (async () => {
      for (let i = RECORDS / 2; i < RECORDS; i += 500) {
        await append(i, 500)
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await until(async () => (await readTopic(log, output)).length >= RECORDS / 4, 'a quarter of the outputs', 60_000)
    process.kill(-one.pid, 'SIGKILL')
    await one.exited
    const atKill = (await readTopic(log, output)).length
    assert.ok(atKill < RECORDS, 'killed mid-stream')
    await until(() => two.partitions().length === 4, 'the survivor with every partition', 30_000, owned)
    await feeding
    await until(async () => (await readTopic(log, output)).length >= RECORDS, 'every output', 60_000)
    process.kill(-two.pid, 'SIGTERM')
    await two.exited
    assertExactlyOnce(await readTopic(log, output))
  })
})
