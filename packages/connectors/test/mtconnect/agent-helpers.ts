/**
 * Helpers of the MTConnect agent client's tests: short timings, a connector on a recording context stopped after the
 * test, and the reading of what was published back into the peer's sequences — to check that every observation
 * of the agent is there once (no duplicate, no gap), and that what else is there is ours (UNAVAILABLE when the
 * agent was gone, and the restatements of values right after it).
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { Observation } from '@openfactory/model'
import {
  createMTConnectAgentConnector,
  type MTConnectAgentConnector,
  type MTConnectAgentConnectorOptions,
} from '../../src/mtconnect/index.ts'
import type { AgentPeer, PeerObservation } from '../../src/testing/agent-peer.ts'
import { createRecordingContext, type RecordingContext } from '../../src/testing/index.ts'

/** Timings that make a test run in milliseconds: a stream stalls after 2 × 200 ms. */
export const AGENT_FAST = {
  heartbeatMs: 200,
  connectTimeoutMs: 1000,
  backoff: { initialMs: 20, maxMs: 100, jitter: 0.1 },
} as const

export function agentConnector(
  peer: AgentPeer,
  opts: Partial<MTConnectAgentConnectorOptions> = {},
): MTConnectAgentConnector {
  return createMTConnectAgentConnector({
    agent: { host: '127.0.0.1', port: peer.port },
    uuid: 'LATHE-A',
    timings: AGENT_FAST,
    intervalMs: 10,
    ...opts,
  })
}

/** Starts a connector on a new recording context (with a checkpoint, for a restart); stopped after the test. */
export async function startOn(
  t: TestContext,
  connector: MTConnectAgentConnector,
  checkpoint?: string,
): Promise<RecordingContext> {
  const ctx = createRecordingContext(checkpoint === undefined ? {} : { checkpoint })
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await connector.stop()
  })
  return ctx
}

/** Stops a connector the way the supervisor does. */
export async function stopOn(ctx: RecordingContext, connector: MTConnectAgentConnector): Promise<void> {
  ctx.controller.abort()
  await connector.stop()
}

/** Polls `check` until it returns true; fails after `ms` naming `what`. */
export async function until(check: () => boolean, what: string | (() => string), ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${typeof what === 'string' ? what : what()}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** The observations published for one asset, in order. */
export function published(ctx: RecordingContext, uuid: string): Observation[] {
  return ctx.published.filter((p) => p.uuid === uuid).map((p) => p.observation)
}

/** What the peer emitted, by source timestamp (each peer observation has its own millisecond). */
export class Emitted {
  readonly #byTime = new Map<string, PeerObservation & { instance: string }>()

  /** Takes in what the peer emitted in its current instance (call again before a restart drops it). */
  add(peer: AgentPeer): void {
    for (const o of peer.emitted) {
      this.#byTime.set(o.timestamp.replace(/000Z$/, 'Z'), { ...o, instance: peer.instanceId })
    }
  }

  of(o: Observation): (PeerObservation & { instance: string }) | undefined {
    return this.#byTime.get(o.attributes.timestamp)
  }
}

/** One asset's publications read back: the agent's observations once each, and what else there is. */
export interface History {
  /** `instance:sequence` of every agent observation published, in publication order, restatements left out. */
  readonly sequences: string[]
  /** Agent observations published again right after an UNAVAILABLE of ours (`instance:sequence`). */
  readonly restated: string[]
  /** Our own UNAVAILABLE observations (agent gone, assets declared), by item. */
  readonly ours: Observation[]
}

/**
 * Reads what was published for one asset: an observation whose timestamp the peer never emitted is ours
 * (UNAVAILABLE with a reason); one the peer emitted is the agent's. An agent observation published a second time
 * must come right after one of ours for its item (a restatement): anything else is a duplicate, and fails.
 */
export function historyOf(observations: readonly Observation[], emitted: Emitted): History {
  const sequences: string[] = []
  const restated: string[] = []
  const ours: Observation[] = []
  const seen = new Set<string>()
  const afterOurs = new Set<string>()
  for (const o of observations) {
    const e = emitted.of(o)
    if (!e) {
      assert.equal(
        o.value,
        'UNAVAILABLE',
        `an observation the agent did not send is one of our UNAVAILABLE: ${JSON.stringify(o)}`,
      )
      assert.equal(typeof o.attributes.reason, 'string', 'ours carry a reason')
      ours.push(o)
      afterOurs.add(o.id)
      continue
    }
    assert.equal(e.item.id, o.id, 'the observation is of the item the agent sent it for')
    const key = `${e.instance}:${e.sequence}`
    const again = seen.has(key)
    if (again) {
      assert.ok(afterOurs.has(o.id), `${o.id} ${key} published twice, not right after an UNAVAILABLE of ours`)
      restated.push(key)
    } else {
      seen.add(key)
      sequences.push(key)
    }
    // A condition restates each of its active entries: they all follow the same UNAVAILABLE.
    if (!(again && o.type === 'Condition')) afterOurs.delete(o.id)
  }
  return { sequences, restated, ours }
}

/** `instance:sequence` of peer observations. */
export function keys(peer: AgentPeer, list: readonly PeerObservation[]): string[] {
  return list.map((o) => `${peer.instanceId}:${o.sequence}`)
}
