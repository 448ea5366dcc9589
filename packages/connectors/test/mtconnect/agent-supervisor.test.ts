// The MTConnect agent client under a real supervisor on an embedded log: observations on ofa_assets exactly once,
// its checkpoint on ofa_connector_state behind them, and a new process (supervisor) resuming from it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
import { type Observation, silentLogger, TOPICS } from '@openfactory/model'
import type { Connector, ConnectorContext } from '../../src/connector.ts'
import { decodeAgentCheckpoint, MTConnectAgentConnector } from '../../src/mtconnect/index.ts'
import { createSupervisor, type Supervisor } from '../../src/supervisor.ts'
import { LATHE, startAgentPeer } from '../../src/testing/agent-peer.ts'
import { createFactoryTestLog } from '../../src/testing/index.ts'
import { observationsOf } from '../helpers.ts'
import { AGENT_FAST, Emitted, historyOf, keys, until } from './agent-helpers.ts'

function supervisorOn(log: EventLog): Supervisor {
  return createSupervisor({
    eventLog: log,
    logger: silentLogger,
    heartbeatMs: 100,
    ttlMs: 1000,
    restartBackoff: { initialMs: 20, maxMs: 100 },
  })
}

/** The data item observations of an asset on the log (not avail, declarations, methods). */
async function itemsOf(log: EventLog, uuid: string, ids: ReadonlySet<string>): Promise<Observation[]> {
  return (await observationsOf(log, uuid)).filter((o) => ids.has(o.id))
}

test('under a supervisor: every observation once on ofa_assets, the checkpoint after them; a new process resumes from it', async (t) => {
  const { log } = await createFactoryTestLog(t)
  const peer = await startAgentPeer(t, { devices: [LATHE] })
  const connector = () =>
    new MTConnectAgentConnector({
      agent: { host: '127.0.0.1', port: peer.port },
      uuid: 'LATHE-A',
      timings: AGENT_FAST,
      intervalMs: 10,
    })
  const ids = new Set(
    LATHE.items
      .concat(
        LATHE.components.flatMap((c) => [...(c.items ?? []), ...(c.components ?? []).flatMap((x) => x.items ?? [])]),
      )
      .filter((i) => i.type !== 'AVAILABILITY')
      .map((i) => i.id),
  )
  const lastValue = async (id: string) => (await itemsOf(log, 'LATHE-A', ids)).findLast((o) => o.id === id)?.value

  const first = supervisorOn(log)
  first.add(connector())
  await first.start()
  peer.emit([
    { id: 's_speed', value: '1' },
    { id: 'execution', value: 'ACTIVE' },
    { id: 'vars', entries: { a: '1' } },
  ])
  await first.flush()
  const deadline = Date.now() + 5000
  while ((await lastValue('s_speed')) !== 1) {
    assert.ok(Date.now() < deadline, 's_speed 1 on the log')
    await new Promise((r) => setTimeout(r, 20))
  }
  peer.emit([{ id: 's_speed', value: '2' }])
  while ((await lastValue('s_speed')) !== 2) {
    assert.ok(Date.now() < deadline, 's_speed 2 on the log')
    await new Promise((r) => setTimeout(r, 20))
  }
  await first.stop()

  // The checkpoint on the log: the last one claims exactly what the agent had sent.
  const states = await readTopic(log, TOPICS.connectorState)
  assert.ok(states.length >= 2)
  assert.ok(states.every((r) => r.key?.toString() === 'LATHE-A'))
  assert.deepEqual(decodeAgentCheckpoint(states.at(-1)?.value?.toString() ?? ''), {
    instanceId: peer.instanceId,
    next: peer.nextSequence,
  })

  // While no process runs, the agent goes on.
  peer.emit([
    { id: 's_speed', value: '3' },
    { id: 'vars', entries: { a: '2', b: '1' } },
  ])
  const second = supervisorOn(log)
  second.add(connector())
  await second.start()
  t.after(() => second.stop())
  const deadline2 = Date.now() + 5000
  while ((await lastValue('vars')) !== '{"a":"2","b":"1"}') {
    assert.ok(Date.now() < deadline2, 'vars on the log after the restart')
    await new Promise((r) => setTimeout(r, 20))
  }
  peer.emit([{ id: 's_speed', value: '4' }])
  while ((await lastValue('s_speed')) !== 4) {
    assert.ok(Date.now() < deadline2, 's_speed 4')
    await new Promise((r) => setTimeout(r, 20))
  }
  await second.stop()

  // Read back from the log: the agent's observations once each, in order — from where the first stream started
  // on, every one of them (before it, current gave each item's latest).
  const emitted = new Emitted()
  emitted.add(peer)
  const h = historyOf(await itemsOf(log, 'LATHE-A', ids), emitted)
  const samples = peer.requests.filter((r) => r.startsWith('/sample'))
  const from = (r: string | undefined) => Number(/from=(\d+)/.exec(r ?? '')?.[1])
  const seq = (k: string) => Number(k.split(':')[1])
  assert.deepEqual(
    h.sequences.filter((k) => seq(k) >= from(samples[0])),
    keys(
      peer,
      peer.emitted.filter((o) => o.item.type !== 'AVAILABILITY' && o.sequence >= from(samples[0])),
    ),
  )
  assert.equal(new Set(h.sequences).size, h.sequences.length, 'no duplicate')
  assert.deepEqual(
    (await itemsOf(log, 'LATHE-A', ids)).filter((o) => o.id === 's_speed' && emitted.of(o)).map((o) => o.value),
    [1, 2, 3, 4],
  )
  // The second process resumed where the first stopped: its stream starts at the checkpoint.
  assert.equal(samples.length, 2)
  assert.equal(from(samples[1]), decodeAgentCheckpoint(states.at(-1)?.value?.toString() ?? '')?.next)
})

test('loadCheckpoint: the last record of the key, read back from the end of a long partition; saved ones first', async (t) => {
  const { log } = await createFactoryTestLog(t)
  await log.append(TOPICS.connectorState, [
    { key: 'A', value: 'a1' },
    { key: 'A', value: 'a2' },
  ])
  await log.append(
    TOPICS.connectorState,
    Array.from({ length: 700 }, (_, i) => ({ key: 'B', value: `b${i}` })),
  )
  const seen: Record<string, (string | undefined)[]> = {}
  const probe = (name: string): Connector => ({
    name,
    async start(ctx: ConnectorContext) {
      seen[name] ??= []
      const list = seen[name]
      list.push(await ctx.loadCheckpoint())
      ctx.saveCheckpoint(`${name}-saved-${list.length}`)
      if (list.length < 2) ctx.fail(new Error('once more'))
    },
    async stop() {},
  })
  const sup = supervisorOn(log)
  for (const name of ['A', 'B', 'C']) sup.add(probe(name))
  await sup.start()
  await until(
    () => Object.values(seen).every((l) => l.length === 2) && Object.keys(seen).length === 3,
    'two starts each',
  )
  await sup.stop()
  assert.deepEqual(seen, {
    A: ['a2', 'A-saved-1'],
    B: ['b699', 'B-saved-1'],
    C: [undefined, 'C-saved-1'],
  })
  const last = (await readTopic(log, TOPICS.connectorState)).slice(-6).map((r) => `${r.key}=${r.value}`)
  assert.deepEqual(last.sort(), [
    'A=A-saved-1',
    'A=A-saved-2',
    'B=B-saved-1',
    'B=B-saved-2',
    'C=C-saved-1',
    'C=C-saved-2',
  ])
})
