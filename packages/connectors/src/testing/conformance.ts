/**
 * The connector conformance suite: what every connector must do, as node:test cases, run by each connector's
 * test file with a small harness of its own (how to start its device peer, break it, bring it back, make it send
 * bad data). It checks the lifecycle of connector.ts against the connector, on a recording context, and
 * commands end to end through a supervisor on an embedded log:
 *
 * 1. start / stop: stop releases everything the connector held (sockets, timers: the handles that keep a process
 *    alive) and nothing is published after it; start after stop works again;
 * 2. availability: the device up → `setAvailable(uuid, true)`; the device gone → `setAvailable(uuid, false,
 *    reason)` and every data item of the asset published UNAVAILABLE — the connector does not fail, it waits;
 * 3. reconnect: the device back → available again and values flowing, without a restart by the supervisor;
 * 4. bad data: a value the connector cannot read is an observation UNAVAILABLE with a `reason`, not an
 *    exception: the connection and the other values go on;
 * 5. commands: a declared method runs and is answered `accepted`, then `completed`; an unknown one is
 *    `rejected` (by the supervisor, and by the connector's `execute` when it has one).
 *
 * Every wait is bounded (`timeoutMs`); nothing measures time.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
import {
  AssetEvents,
  type CommandResult,
  DEFAULT_ASSETS_PARTITIONS,
  decodeAssetEvent,
  encodeAssetEvent,
  isOpenFactoryError,
  type Observation,
  silentLogger,
  TOPICS,
  UNAVAILABLE,
} from '@openfactory/model'
import type { Connector } from '../connector.ts'
import { createSupervisor } from '../supervisor.ts'
import { createRecordingContext, type RecordingContext } from './recording-context.ts'

/** One connector wired to its device peer, for one test. */
export interface ConnectorFixture {
  readonly connector: Connector
  /** The asset the checks watch (one the connector declares). */
  readonly assetUuid: string
  /** A method the asset declares and arguments it accepts; absent for a connector that declares none. */
  readonly method?: { readonly name: string; readonly arguments: Readonly<Record<string, unknown>> }
  /** Makes the device send a valid value now (a connector that samples by itself may do nothing). */
  produce(): Promise<void>
  /** Takes the device away: the connection is lost and cannot be made again until `restoreDevice`. */
  breakDevice(): Promise<void>
  /** Brings the device back. */
  restoreDevice(): Promise<void>
  /** Makes the device send a value the connector cannot read; resolves with the id of the data item concerned. */
  sendBadData(): Promise<string>
}

export interface ConnectorHarness {
  /** Names the suite: `connector conformance: <name>`. */
  readonly name: string
  /** Starts a device peer and builds a connector for it; registers their cleanup on `t` (`t.after`). */
  setup(t: TestContext): Promise<ConnectorFixture>
  /** How long one check may wait, in ms (default 5000). */
  readonly timeoutMs?: number
}

/** Polls `check` until it returns true, failing after `ms` with `what`. */
async function waitFor(check: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${typeof what === 'string' ? what : what()}`)
    await delay(10)
  }
}

/** The calls after `mark` (an index into `ctx.calls`). */
function since(ctx: RecordingContext, mark: number) {
  return ctx.calls.slice(mark)
}

function availabilitySince(ctx: RecordingContext, mark: number, uuid: string) {
  return since(ctx, mark).flatMap((c) => (c.call === 'setAvailable' && c.uuid === uuid ? [c] : []))
}

function observationsSince(ctx: RecordingContext, mark: number, uuid: string): Observation[] {
  return since(ctx, mark).flatMap((c) => (c.call === 'publish' && c.uuid === uuid ? c.observations : []))
}

function isAvailable(ctx: RecordingContext, mark: number, uuid: string): boolean {
  return availabilitySince(ctx, mark, uuid).at(-1)?.available === true
}

/** Active handles by kind (sockets, timers...), to see that a stopped connector holds none of its own. */
function resources(): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1)
  return m
}

function moreThan(now: Map<string, number>, before: Map<string, number>): string[] {
  return [...now].filter(([kind, n]) => n > (before.get(kind) ?? 0)).map(([kind, n]) => `${kind} ${n}`)
}

async function started(f: ConnectorFixture, ms: number, what: string): Promise<RecordingContext> {
  const ctx = createRecordingContext()
  await f.connector.start(ctx)
  await waitFor(() => isAvailable(ctx, 0, f.assetUuid), ms, `${what}: setAvailable(${f.assetUuid}, true)`)
  return ctx
}

async function stopped(f: ConnectorFixture, ctx: RecordingContext): Promise<void> {
  ctx.controller.abort()
  await f.connector.stop()
}

/**
 * A real embedded log in a temporary folder with the OpenFactory topics (assets, registry, documents, connector
 * state), closed and removed after the test. Used by the conformance suite's supervisor and by the connectors' own
 * tests.
 */
export async function createFactoryTestLog(t: TestContext): Promise<{ log: EventLog; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-conn-'))
  const log = await openEmbeddedLog({ dir })
  t.after(async () => {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: TOPICS.assets, partitions: DEFAULT_ASSETS_PARTITIONS })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.documents, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.connectorState, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.unsMap, partitions: 1, cleanupPolicy: 'compact' })
  return { log, dir }
}

/** Every `<Method>_RESULT` of one command on the log, in order. */
async function resultsOf(log: EventLog, uuid: string, correlationId: string): Promise<CommandResult[]> {
  const out: CommandResult[] = []
  for (const r of await readTopic(log, TOPICS.assets)) {
    if (r.key?.toString() !== uuid || r.value === null) continue
    const e = decodeAssetEvent(r.value)
    if (e.kind === 'result' && e.result.correlation_id === correlationId) out.push(e.result)
  }
  return out
}

/** Registers the conformance suite for one connector. */
export function connectorConformance(harness: ConnectorHarness): void {
  const ms = harness.timeoutMs ?? 5000
  describe(`connector conformance: ${harness.name}`, () => {
    test('start, stop, start again: stop releases everything and nothing is published after it', async (t) => {
      const f = await harness.setup(t)
      const before = resources()
      const first = await started(f, ms, 'first start')
      assert.ok(
        first.declared.some((a) => a.uuid === f.assetUuid),
        `start declares ${f.assetUuid}`,
      )
      await stopped(f, first)
      const calls = first.calls.length
      await f.produce()
      await delay(100)
      assert.equal(first.calls.length, calls, 'no call on the context after stop')
      await waitFor(
        () => moreThan(resources(), before).length === 0,
        ms,
        () => `stop releases what start took (still held: ${moreThan(resources(), before).join(', ')})`,
      )
      const second = await started(f, ms, 'start after stop')
      assert.ok(second.declared.some((a) => a.uuid === f.assetUuid))
      await f.produce()
      await waitFor(
        () => observationsSince(second, 0, f.assetUuid).some((o) => o.value !== UNAVAILABLE),
        ms,
        'values after the second start',
      )
      await stopped(f, second)
      assert.deepEqual([...first.failures, ...second.failures], [])
    })

    test('availability: the device gone is setAvailable(false, reason) and every item UNAVAILABLE', async (t) => {
      const f = await harness.setup(t)
      const ctx = await started(f, ms, 'start')
      t.after(() => stopped(f, ctx))
      const asset = ctx.declared.find((a) => a.uuid === f.assetUuid)
      assert.ok(asset, `start declares ${f.assetUuid}`)
      const mark = ctx.calls.length
      await f.breakDevice()
      await waitFor(
        () => availabilitySince(ctx, mark, f.assetUuid).some((a) => !a.available),
        ms,
        `setAvailable(${f.assetUuid}, false, reason)`,
      )
      const down = availabilitySince(ctx, mark, f.assetUuid).find((a) => !a.available)
      assert.equal(typeof down?.reason, 'string')
      assert.ok((down?.reason ?? '') !== '', 'a reason')
      const unavailable = new Set(
        observationsSince(ctx, mark, f.assetUuid)
          .filter((o) => o.value === UNAVAILABLE)
          .map((o) => o.id),
      )
      const missing = asset.dataItems.map((d) => d.id).filter((id) => !unavailable.has(id))
      assert.deepEqual(missing, [], 'every data item published UNAVAILABLE')
      assert.deepEqual(ctx.failures, [], 'a lost device is waited for, not a failure')
    })

    test('reconnect: the device back is available again and its values flow', async (t) => {
      const f = await harness.setup(t)
      const ctx = await started(f, ms, 'start')
      t.after(() => stopped(f, ctx))
      await f.breakDevice()
      await waitFor(() => !isAvailable(ctx, 0, f.assetUuid), ms, 'the device down')
      const mark = ctx.calls.length
      await f.restoreDevice()
      await waitFor(() => isAvailable(ctx, mark, f.assetUuid), ms, 'available again after the device came back')
      await f.produce()
      await waitFor(
        () => observationsSince(ctx, mark, f.assetUuid).some((o) => o.value !== UNAVAILABLE),
        ms,
        'values after the reconnection',
      )
      assert.deepEqual(ctx.failures, [])
    })

    test('bad data: an observation UNAVAILABLE with a reason, not an exception', async (t) => {
      const f = await harness.setup(t)
      const ctx = await started(f, ms, 'start')
      t.after(() => stopped(f, ctx))
      const mark = ctx.calls.length
      const id = await f.sendBadData()
      await waitFor(
        () => observationsSince(ctx, mark, f.assetUuid).some((o) => o.id === id && o.value === UNAVAILABLE),
        ms,
        `${id} published UNAVAILABLE`,
      )
      const bad = observationsSince(ctx, mark, f.assetUuid).find((o) => o.id === id && o.value === UNAVAILABLE)
      assert.equal(typeof bad?.attributes.reason, 'string')
      assert.ok((bad?.attributes.reason ?? '') !== '', 'with a reason')
      const after = ctx.calls.length
      await f.produce()
      await waitFor(
        () => observationsSince(ctx, after, f.assetUuid).some((o) => o.value !== UNAVAILABLE),
        ms,
        'values still flow after the bad one',
      )
      assert.ok(
        availabilitySince(ctx, mark, f.assetUuid).every((a) => a.available),
        'bad data does not take the device down',
      )
      assert.deepEqual(ctx.failures, [])
    })

    test('commands: a declared method runs and is answered accepted then completed; an unknown one is rejected', async (t) => {
      const f = await harness.setup(t)
      const { log } = await createFactoryTestLog(t)
      const supervisor = createSupervisor({
        eventLog: log,
        logger: silentLogger,
        heartbeatMs: 200,
        ttlMs: 2000,
        restartBackoff: { initialMs: 20, maxMs: 100 },
      })
      t.after(() => supervisor.stop())
      supervisor.add(f.connector)
      await supervisor.start()
      await waitFor(() => supervisor.status()[0]?.state === 'running', ms, 'the connector running')
      const send = async (name: string, args: Readonly<Record<string, unknown>>): Promise<string> => {
        const cmd = AssetEvents.command({ method: name, senderUuid: 'conformance', arguments: { ...args } })
        await log.append(TOPICS.assets, [{ key: f.assetUuid, value: encodeAssetEvent(cmd) }])
        return cmd.envelope.header.correlation_id
      }
      const answered = async (id: string, final: (r: CommandResult) => boolean): Promise<CommandResult[]> => {
        const deadline = Date.now() + ms
        for (;;) {
          const results = await resultsOf(log, f.assetUuid, id)
          if (results.some(final)) return results
          if (Date.now() > deadline)
            assert.fail(`no final result for ${id} within ${ms} ms: ${JSON.stringify(results)}`)
          await delay(20)
        }
      }
      const isFinal = (r: CommandResult) => r.status !== 'accepted'

      if (f.method) {
        const results = await answered(await send(f.method.name, f.method.arguments), isFinal)
        assert.deepEqual(
          results.map((r) => r.status),
          ['accepted', 'completed'],
          `${f.method.name}: ${JSON.stringify(results)}`,
        )
      } else {
        t.diagnostic(`${harness.name} declares no method: the declared-method check does not apply`)
      }

      const unknown = await answered(await send('NoSuchMethod', {}), isFinal)
      assert.deepEqual(
        unknown.map((r) => [r.status, r.error?.code]),
        [['rejected', 'OFA_COMMAND_REJECTED']],
      )
      if (f.connector.execute) {
        await assert.rejects(
          f.connector.execute({
            assetUuid: f.assetUuid,
            method: 'NoSuchMethod',
            arguments: {},
            envelope: AssetEvents.command({ method: 'NoSuchMethod', senderUuid: 'conformance', arguments: {} })
              .envelope,
          }),
          (err) => isOpenFactoryError(err, 'OFA_COMMAND_REJECTED'),
        )
      }
      await supervisor.stop()
    })
  })
}
