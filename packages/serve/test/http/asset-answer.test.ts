// `GET /api/assets/{uuid}` answers, built from the state's kept view JSON and entry text (issue 18), against the
// answer as it was built before: `JSON.stringify` of `state.asset(uuid)` with the entries' JSON appended, for
// many generated assets — declared or not, with entries of every kind — and again after changes to what the view
// shows (new entries, other units, availability, a new declaration), with the answer cache on and off.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { type AssetState, createServeApp } from '../../src/index.ts'
import { avail, createTestLog, createTestServing, declare, publish, sample, sensor, waitFor } from '../helpers/log.ts'

/** The answer as the route built it before: the view stringified, its closing brace replaced by the entries. */
function oldAnswer(state: AssetState, uuid: string): unknown {
  const items: string[] = []
  for (const id of state.itemIds(uuid)) items.push(state.itemJson(uuid, id) as string)
  const head = JSON.stringify(state.asset(uuid))
  return JSON.parse(`${head.slice(0, -1)},"state":[${items.join(',')}]}`)
}

async function answer(app: FastifyInstance, uuid: string): Promise<unknown> {
  const res = await app.inject(`/api/assets/${uuid}`)
  assert.equal(res.statusCode, 200, res.body)
  return JSON.parse(res.body)
}

const ids = ['Temp', 'Hum', 'exec', 'system', 'rpm', 'mode', 'load', 'msg']
const observation = fc.record({
  id: fc.constantFrom(...ids),
  number: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer()),
  text: fc.string({ maxLength: 8 }),
  numeric: fc.boolean(),
  units: fc.constantFrom(undefined, 'CELSIUS', 'PERCENT', 'REVOLUTION/MINUTE'),
  subType: fc.constantFrom(undefined, 'ACTUAL', 'COMMANDED'),
})
const assetPlan = fc.record({
  declared: fc.boolean(),
  available: fc.constantFrom(undefined, true, false),
  observations: fc.array(observation, { maxLength: 10 }),
})

test('answers equal the old JSON round trip for generated assets, also after changes, cached or not', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const state = serving.state
  const cached = await createServeApp({ eventLog: log, serving })
  t.after(() => cached.close())
  const built = await createServeApp({ eventLog: log, serving, responseCacheBytes: 0 })
  t.after(() => built.close())

  const plans = fc.sample(assetPlan, { numRuns: 60, seed: 18 })
  const uuids = plans.map((_, i) => `asset-${i}`)
  let published = 0
  const apply = async (round: number): Promise<void> => {
    for (const [i, p] of plans.entries()) {
      const uuid = uuids[i] as string
      if (p.declared && round === 0) await declare(log, sensor(uuid, ['F', 'A', `WC${i}`, uuid]))
      const obs = p.observations.map((o) => {
        const extra: Record<string, unknown> = {}
        // Round 1 changes the units of some entries: another shape, so another data item in the view.
        const units = round === 1 && o.units !== undefined ? 'KILOWATT' : o.units
        if (units !== undefined) extra.units = units
        if (o.subType !== undefined) extra.subType = o.subType
        return o.numeric ? sample(o.id, o.number, `Tag${o.id}`, extra) : sample(o.id, o.text, `Tag${o.id}`, extra)
      })
      // Availability flips in round 1; a declaration arrives for an undeclared asset in round 2.
      if (p.available !== undefined) obs.push(avail(round === 1 ? !p.available : p.available))
      if (round === 2 && !p.declared) await declare(log, sensor(uuid, ['F', 'B', `WC${i}`, uuid]))
      if (round === 0 && obs.length === 0) obs.push(sample('Temp', i))
      if (obs.length > 0) await publish(log, uuid, obs)
      published += obs.length
    }
    await waitFor('the state caught up', async () => (await state.lag()) === 0 && state.isReady)
  }

  for (let round = 0; round < 3; round++) {
    await apply(round)
    for (const uuid of uuids) {
      const want = oldAnswer(state, uuid)
      assert.deepStrictEqual(await answer(built, uuid), want, `${uuid}, round ${round}, built`)
      // Twice: once built and cached, once from the cache.
      assert.deepStrictEqual(await answer(cached, uuid), want, `${uuid}, round ${round}, cached (first)`)
      assert.deepStrictEqual(await answer(cached, uuid), want, `${uuid}, round ${round}, cached (again)`)
    }
  }
  assert.ok(published > uuids.length * 2, `observations published: ${published}`)
  // Availability flipped in round 1 and back in round 2: the answers follow it.
  const flipped = plans.findIndex((p) => p.available !== undefined)
  assert.ok(flipped >= 0, 'a generated asset with an availability')
  const last = (await answer(cached, uuids[flipped] as string)) as { availability: string }
  assert.equal(last.availability, plans[flipped]?.available ? 'AVAILABLE' : 'UNAVAILABLE')
})
