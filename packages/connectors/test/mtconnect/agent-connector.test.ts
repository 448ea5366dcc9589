// connector.type: mtconnect with agent.ip: the agent client against our synthetic agent (agent-peer.ts), on a
// recording context. Every observation the agent holds is published once, in order; faults take the assets down
// with a coded reason and the client comes back where it was. The suite runs once per format the agent may answer
// in: XML, JSON version 1, JSON version 2 (an agent configured to answer JSON only; we ask for XML).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { applyCondition, type Observation } from '@openfactory/model'
import { planDevice } from '../../src/from-config.ts'
import {
  decodeAgentCheckpoint,
  MTCONNECT_MAX_DOCUMENT_BYTES,
  MTConnectAgentConnector,
} from '../../src/mtconnect/index.ts'
import {
  type AgentPeerOptions,
  LATHE,
  PEER_FORMATS,
  type PeerObservation,
  PRESS,
  startAgentPeer as startPeer,
} from '../../src/testing/agent-peer.ts'
import { deviceConfig } from '../../src/testing/index.ts'
import {
  AGENT_FAST,
  agentConnector,
  Emitted,
  historyOf,
  keys,
  published,
  startOn,
  stopOn,
  until,
} from './agent-helpers.ts'

function valuesOf(obs: readonly Observation[], id: string): Observation['value'][] {
  return obs.filter((o) => o.id === id).map((o) => o.value)
}

function lastOf(obs: readonly Observation[], id: string): Observation | undefined {
  return obs.findLast((o) => o.id === id)
}

function available(ctx: { availability: { uuid: string; available: boolean }[] }, uuid: string): boolean {
  return ctx.availability.findLast((a) => a.uuid === uuid)?.available === true
}

for (const format of PEER_FORMATS)
  describe(`MTConnect agent client (${format})`, () => {
    const startAgentPeer = (t: Parameters<typeof startPeer>[0], opts: AgentPeerOptions) =>
      startPeer(t, { ...opts, format })
    const json = format !== 'xml'

    test('probe, current, then the stream: the asset model and exact observations of every kind', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      peer.emit([
        { id: 's_speed', value: '1200' },
        { id: 'execution', value: 'ACTIVE' },
        {
          id: 's_temp_cond',
          level: 'FAULT',
          nativeCode: 'T-1',
          nativeSeverity: '2',
          qualifier: 'HIGH',
          text: 'Spindle hot',
        },
        { id: 's_temp_cond', level: 'WARNING', nativeCode: 'T-2', text: 'Coolant low' },
        { id: 'vars', entries: { feed: '100', mode: 'auto' } },
      ])
      const connector = agentConnector(peer)
      assert.equal(connector.name, 'LATHE-A')
      const ctx = await startOn(t, connector)
      await until(() => available(ctx, 'LATHE-A'), 'LATHE-A available')

      // The asset model: the device's data items (its own AVAILABILITY drives avail), tags as the agent streams them.
      assert.equal(ctx.declared.length, 1)
      const asset = ctx.declared[0]
      assert.equal(asset?.uuid, 'LATHE-A')
      assert.deepEqual(
        asset?.dataItems.map((d) => [d.id, d.category, d.tag, d.units ?? '', d.subType ?? '']),
        [
          ['asset_chg', 'Events', 'AssetChanged', '', ''],
          ['asset_rem', 'Events', 'AssetRemoved', '', ''],
          ['s_speed', 'Samples', 'RotaryVelocity', 'REVOLUTION/MINUTE', 'ACTUAL'],
          ['s_temp', 'Samples', 'Temperature', 'CELSIUS', ''],
          ['s_vib', 'Samples', 'DisplacementTimeSeries', 'MILLIMETER', ''],
          ['s_temp_cond', 'Condition', 'Temperature', '', ''],
          ['msg', 'Events', 'Message', '', ''],
          ['execution', 'Events', 'Execution', '', ''],
          ['program', 'Events', 'Program', '', ''],
          ['vars', 'Events', 'VariableDataSet', '', ''],
          ['offsets', 'Events', 'WorkOffsetTable', '', ''],
          ['path_pos', 'Samples', 'PathPosition', 'MILLIMETER_3D', ''],
        ],
      )
      // What current said: every item's latest value (both active conditions), with the agent's timestamps.
      const first = published(ctx, 'LATHE-A')
      const emitted = new Emitted()
      emitted.add(peer)
      const speed = lastOf(first, 's_speed')
      assert.deepEqual(
        { ...speed, attributes: { ...speed?.attributes, ingestion_timestamp: 'x' } },
        {
          id: 's_speed',
          value: 1200,
          tag: 'RotaryVelocity',
          type: 'Samples',
          attributes: {
            timestamp: emitted.of(speed as Observation)?.timestamp.replace('000Z', 'Z'),
            ingestion_timestamp: 'x',
            units: 'REVOLUTION/MINUTE',
            subType: 'ACTUAL',
          },
        },
      )
      const conds = first.filter((o) => o.id === 's_temp_cond')
      assert.deepEqual(
        conds.map((o) => [
          o.value,
          o.attributes.nativeCode,
          o.attributes.nativeSeverity,
          o.attributes.qualifier,
          o.attributes.message,
        ]),
        [
          ['FAULT', 'T-1', '2', 'HIGH', 'Spindle hot'],
          ['WARNING', 'T-2', undefined, undefined, 'Coolant low'],
        ],
      )
      assert.equal(lastOf(first, 'vars')?.value, '{"feed":"100","mode":"auto"}')
      assert.equal(lastOf(first, 'vars')?.attributes.count, 2)
      assert.equal(lastOf(first, 'program')?.value, 'UNAVAILABLE')
      assert.equal(lastOf(first, 'program')?.attributes.reason, undefined, "the agent's UNAVAILABLE, not ours")

      // The stream: each kind as the SHDR path gives it.
      const mark = ctx.published.length
      const seqs = peer.emit([
        { id: 's_speed', value: '1250.5' },
        { id: 's_temp', value: 'hot' },
        { id: 's_vib', value: '1 2.5 3', attributes: { sampleCount: '3', sampleRate: '100' } },
        { id: 'path_pos', value: '1.5 2 -3' },
        { id: 'msg', value: 'Check oil', attributes: { nativeCode: 'M-7' } },
        { id: 'program', value: '' },
        { id: 's_temp_cond', level: 'NORMAL', nativeCode: 'T-1' },
        { id: 'vars', entries: { feed: '110', mode: null } },
        { id: 'offsets', entries: { G54: { X: '1.5', Y: '2' }, G55: null }, resetTriggered: 'DAY' },
        { id: 'execution', value: 'UNAVAILABLE' },
      ])
      await until(() => ctx.published.length >= mark + 10, 'ten observations from the stream')
      emitted.add(peer)
      const streamed = ctx.published.slice(mark).map((p) => p.observation)
      assert.deepEqual(
        streamed.map((o) => [o.id, o.value, emitted.of(o)?.sequence]),
        [
          ['s_speed', 1250.5, seqs[0]],
          ['s_temp', 'UNAVAILABLE', seqs[1]],
          ['s_vib', '1 2.5 3', seqs[2]],
          ['path_pos', '1.5 2 -3', seqs[3]],
          ['msg', 'Check oil', seqs[4]],
          ['program', '', seqs[5]],
          ['s_temp_cond', 'NORMAL', seqs[6]],
          ['vars', '{"feed":"110","mode":null}', seqs[7]],
          ['offsets', '{"G54":{"X":"1.5","Y":"2"},"G55":null}', seqs[8]],
          ['execution', 'UNAVAILABLE', seqs[9]],
        ],
      )
      const by = (id: string) => streamed.find((o) => o.id === id) as Observation
      assert.deepEqual(
        [by('s_temp').attributes.quality, by('s_temp').attributes.reason],
        ['BAD', "not a number: 'hot'"],
      )
      assert.deepEqual([by('s_vib').attributes.sampleCount, by('s_vib').attributes.sampleRate], [3, 100])
      assert.equal(by('msg').attributes.nativeCode, 'M-7')
      assert.equal(by('offsets').attributes.resetTriggered, 'DAY')
      let active: ReturnType<typeof applyCondition> = []
      for (const o of published(ctx, 'LATHE-A')) if (o.id === 's_temp_cond') active = applyCondition(active, o)
      assert.deepEqual(
        active.map((c) => `${c.level}:${c.nativeCode}`),
        ['WARNING:T-2'],
      )
      // Requests: current (no model yet), probe, current, assets, then one stream from current's nextSequence.
      const sample = peer.requests.find((r) => r.startsWith('/sample')) ?? ''
      assert.deepEqual(peer.requests.slice(0, 4), ['/current', '/probe', '/current', '/assets?count=64'])
      assert.match(sample, /^\/sample\?from=\d+&count=1000&interval=10&heartbeat=200$/)
      // The checkpoint follows the stream.
      await until(() => decodeAgentCheckpoint(ctx.checkpoints.at(-1) ?? '')?.next === peer.nextSequence, 'checkpoint')
      assert.equal(decodeAgentCheckpoint(ctx.checkpoints.at(-1) ?? '')?.instanceId, peer.instanceId)
      const h = historyOf(published(ctx, 'LATHE-A'), emitted)
      assert.deepEqual(h.restated, [])
      assert.equal(new Set(h.sequences).size, h.sequences.length)
      assert.deepEqual(ctx.failures, [])
    })

    test("a device file with agent.ip runs through the registry: the device uuid and UNS on the agent's only device", async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      const uns = { levels: { area: 'Turning', asset: 'lathe-f' }, unsId: 'Turning/lathe-f' }
      const plan = planDevice(
        deviceConfig({ type: 'mtconnect', agent: { ip: '127.0.0.1', port: peer.port } }, { uuid: 'LATHE-F', uns }),
        { timings: AGENT_FAST },
      )
      assert.equal(plan.kind, 'run')
      if (plan.kind !== 'run') return
      assert.ok(plan.connector instanceof MTConnectAgentConnector)
      assert.equal(plan.adapter, undefined)
      const ctx = await startOn(t, plan.connector)
      await until(() => available(ctx, 'LATHE-F'), 'LATHE-F available')
      assert.deepEqual(
        ctx.declared.map((a) => [a.uuid, a.uns?.unsId, a.dataItems.length]),
        [['LATHE-F', 'Turning/lathe-f', 12]],
      )
    })

    test('several devices: a uuid map gives one asset per device; one uuid binds the device of that uuid or name, and no other', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE, PRESS] })
      const both = agentConnector(peer, { uuid: { 'lathe-1': 'LATHE-A', 'PEER-PRESS-2': 'PRESS-B' } })
      const ctx = await startOn(t, both)
      await until(() => available(ctx, 'LATHE-A') && available(ctx, 'PRESS-B'), 'both assets available')
      assert.deepEqual(
        ctx.declared.map((a) => a.uuid),
        ['LATHE-A', 'PRESS-B'],
      )
      assert.deepEqual(
        ctx.declared[1]?.dataItems.map((d) => d.id),
        ['press_avail', 'ram_pos', 'ram_hyd'],
      )
      const mark = ctx.published.length
      peer.emit([
        { id: 'ram_pos', value: '12.5' },
        { id: 's_speed', value: '900' },
        { id: 'ram_hyd', level: 'FAULT', nativeCode: 'H1', text: 'pressure' },
      ])
      await until(() => ctx.published.length >= mark + 3, 'three observations')
      assert.deepEqual(
        ctx.published.slice(mark).map((p) => [p.uuid, p.observation.id, p.observation.value]),
        [
          ['PRESS-B', 'ram_pos', 12.5],
          ['LATHE-A', 's_speed', 900],
          ['PRESS-B', 'ram_hyd', 'FAULT'],
        ],
      )
      // The device's own AVAILABILITY drives its asset's avail.
      peer.emit([{ id: 'press_avail', value: 'UNAVAILABLE' }])
      await until(() => !available(ctx, 'PRESS-B'), 'PRESS-B down')
      assert.equal(
        ctx.availability.findLast((a) => a.uuid === 'PRESS-B')?.reason,
        'the agent reports the device UNAVAILABLE',
      )
      assert.ok(available(ctx, 'LATHE-A'))
      // ... and is an item of its own too, under its id (the lathe's is `avail`, ours: only avail).
      assert.deepEqual(
        ctx.published
          .filter((p) => p.observation.id === 'press_avail')
          .map((p) => p.observation.value)
          .at(-1),
        'UNAVAILABLE',
      )
      peer.emit([{ id: 'press_avail', value: 'AVAILABLE' }])
      await until(() => available(ctx, 'PRESS-B'), 'PRESS-B up again')

      // A uuid that is none of several devices binds none: the first would be another machine under this uuid.
      const none = await startOn(t, agentConnector(peer, { uuid: 'ONLY' }))
      await until(() => none.availability.some((a) => a.uuid === 'ONLY' && !a.available), 'ONLY refused')
      assert.match(
        none.availability[0]?.reason ?? '',
        /OFA_MTCONNECT_AGENT .*several devices and none has uuid, name or id 'ONLY'.*\(devices: lathe-1, press-2\)/,
      )
      assert.deepEqual(none.declared, [])
      // An agent of one device binds it whatever the uuid (the reference's one-device agents).
      const single = await startAgentPeer(t, { devices: [LATHE] })
      const one = await startOn(t, agentConnector(single, { uuid: 'ONLY' }))
      await until(() => available(one, 'ONLY'), 'ONLY available')
      assert.deepEqual(
        one.declared.map((a) => [a.uuid, a.dataItems.length]),
        [['ONLY', 12]],
      )
      assert.ok(one.published.every((p) => p.uuid === 'ONLY'))

      // A device file per device: a uuid that is a device's uuid (or name) binds that device, not the first.
      const press = await startOn(t, agentConnector(peer, { uuid: 'PEER-PRESS-2' }))
      const byName = await startOn(t, agentConnector(peer, { uuid: 'press-2' }))
      await until(() => available(press, 'PEER-PRESS-2') && available(byName, 'press-2'), 'the press bound twice')
      for (const ctx2 of [press, byName]) {
        assert.deepEqual(
          ctx2.declared[0]?.dataItems.map((d) => d.id),
          ['press_avail', 'ram_pos', 'ram_hyd'],
        )
      }

      const wrong = agentConnector(peer, { uuid: { 'no-such-device': 'X' } })
      const bad = await startOn(t, wrong)
      await until(() => bad.availability.some((a) => a.uuid === 'X' && !a.available), 'X down')
      assert.match(
        bad.availability[0]?.reason ?? '',
        /OFA_MTCONNECT_AGENT .*'no-such-device' names no device of the agent \(devices: lathe-1, press-2\)/,
      )
    })

    test('asset documents: all of them at the start, again on AssetChanged, removed on AssetRemoved', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE, PRESS] })
      const tool = '<ToolLife type="MINUTES" countDirection="UP" limit="300">12</ToolLife>'
      const toolJson = { ToolLife: { type: 'MINUTES', countDirection: 'UP', limit: 300, value: 12 } }
      peer.putAsset(
        { assetId: 'T1', type: 'CuttingTool', deviceUuid: 'PEER-LATHE-1', inner: tool, json: toolJson },
        'asset_chg',
      )
      peer.putAsset(
        { assetId: 'P9', type: 'Part', deviceUuid: 'PEER-PRESS-2', inner: '<PartId>9</PartId>' },
        'asset_chg',
      )
      const ctx = await startOn(t, agentConnector(peer, { uuid: { 'lathe-1': 'LATHE-A' } }))
      await until(() => ctx.documents.length >= 1, 'the first document')
      assert.deepEqual(
        ctx.documents.map((d) => [d.assetId, d.type, d.deviceUuid, d.removed ?? false]),
        [['T1', 'CuttingTool', 'LATHE-A', false]],
        'P9 belongs to a device we do not bind: it is not ours',
      )
      // The document as the agent wrote it: the element, or in JSON its object.
      const body = ctx.documents[0]?.body ?? ''
      if (json) {
        const { timestamp, ...rest } = JSON.parse(body).CuttingTool
        assert.equal(typeof timestamp, 'string')
        assert.deepEqual(rest, { assetId: 'T1', deviceUuid: 'PEER-LATHE-1', ...toolJson })
      } else {
        assert.match(body, /^<CuttingTool assetId="T1" timestamp="[^"]+" deviceUuid="PEER-LATHE-1"><ToolLife/)
        assert.ok(body.endsWith(`${tool}</CuttingTool>`))
      }
      peer.putAsset({ assetId: 'T2', type: 'CuttingTool', deviceUuid: 'PEER-LATHE-1', inner: '<x/>' }, 'asset_chg')
      await until(() => ctx.documents.some((d) => d.assetId === 'T2'), 'T2 fetched after AssetChanged')
      assert.ok(peer.requests.includes('/asset/T2'))
      assert.equal(lastOf(published(ctx, 'LATHE-A'), 'asset_chg')?.value, 'T2')
      peer.removeAsset('T1', 'asset_rem')
      await until(() => ctx.documents.some((d) => d.assetId === 'T1' && d.removed), 'T1 removed')
      assert.deepEqual(
        ctx.documents.map((d) => [d.assetId, d.removed ?? false]),
        [
          ['T1', false],
          ['T2', false],
          ['T1', true],
        ],
      )
      assert.equal(ctx.documents[2]?.type, 'CuttingTool')
    })

    test('the agent gone: avail down with a coded reason, every item UNAVAILABLE once; back: nothing lost, nothing twice', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      const connector = agentConnector(peer)
      const ctx = await startOn(t, connector)
      await until(() => available(ctx, 'LATHE-A'), 'up')
      const emitted = new Emitted()
      peer.emit([
        { id: 's_speed', value: '100' },
        { id: 'execution', value: 'ACTIVE' },
      ])
      await until(() => lastOf(published(ctx, 'LATHE-A'), 'execution')?.value === 'ACTIVE', 'ACTIVE')
      await peer.stop()
      await until(() => !available(ctx, 'LATHE-A'), 'down')
      const down = ctx.availability.findLast((a) => a.uuid === 'LATHE-A')
      assert.match(down?.reason ?? '', /^OFA_MTCONNECT_AGENT /)
      const items = (ctx.declared[0]?.dataItems ?? []).map((d) => d.id)
      const markDown = ctx.published.length
      // Published UNAVAILABLE once, however many reconnection attempts fail.
      await new Promise((r) => setTimeout(r, 300))
      const unavailable = ctx.published.filter(
        (p) =>
          p.observation.value === 'UNAVAILABLE' && p.observation.attributes.reason?.startsWith('OFA_MTCONNECT_AGENT'),
      )
      assert.deepEqual(unavailable.map((p) => p.observation.id).sort(), [...items].sort())
      assert.equal(ctx.availability.filter((a) => !a.available).length, 1, 'one avail UNAVAILABLE per outage')
      assert.ok(connector.stats().disconnects >= 2, 'it kept trying')
      assert.equal(ctx.published.length, markDown)
      // Meanwhile the agent goes on.
      peer.emit([
        { id: 's_speed', value: '200' },
        { id: 's_speed', value: '300' },
      ])
      await peer.start()
      await until(() => available(ctx, 'LATHE-A'), 'up again')
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 300, 's_speed 300')
      peer.emit([{ id: 's_speed', value: '400' }])
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 400, 's_speed 400')
      emitted.add(peer)
      const obs = published(ctx, 'LATHE-A')
      const h = historyOf(obs, emitted)
      // s_speed: every value once; after the outage the values it missed, in order.
      assert.deepEqual(
        obs.filter((o) => o.id === 's_speed' && emitted.of(o)).map((o) => o.value),
        ['UNAVAILABLE', 100, 200, 300, 400],
      )
      // execution did not change while we were away: its value is restated after our UNAVAILABLE.
      assert.deepEqual(valuesOf(obs, 'execution').slice(-3), ['ACTIVE', 'UNAVAILABLE', 'ACTIVE'])
      assert.ok(h.restated.length > 0)
      // No gap: every observation of the agent from its current at our start on is there.
      const since = emitted.of(obs.find((o) => emitted.of(o)) as Observation)?.sequence ?? 0
      const expected = keys(
        peer,
        peer.emitted.filter((o) => o.sequence >= since && o.item.type !== 'AVAILABILITY'),
      )
      assert.deepEqual(h.sequences.filter((k) => expected.includes(k)).sort(), [...expected].sort())
      assert.deepEqual(ctx.failures, [])
    })

    test('the agent restarted: probed again, everything the new instance holds is read', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      const connector = agentConnector(peer)
      const ctx = await startOn(t, connector)
      await until(() => available(ctx, 'LATHE-A'), 'up')
      const emitted = new Emitted()
      peer.emit([{ id: 's_speed', value: '100' }])
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 100, '100')
      const before = peer.instanceId
      emitted.add(peer)
      peer.restart()
      peer.emit([
        { id: 's_speed', value: '5' },
        { id: 's_speed', value: '6' },
        { id: 'program', value: 'O42' },
      ])
      await until(() => lastOf(published(ctx, 'LATHE-A'), 'program')?.value === 'O42', 'O42')
      peer.emit([{ id: 's_speed', value: '7' }])
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 7, '7')
      emitted.add(peer)
      assert.notEqual(peer.instanceId, before)
      assert.equal(peer.requests.filter((r) => r === '/probe').length, 2, 'probed again')
      const h = historyOf(published(ctx, 'LATHE-A'), emitted)
      // Every observation of the new instance, from its first sequence on, once and in order.
      const fresh = h.sequences.filter((k) => k.startsWith(`${peer.instanceId}:`))
      const all = keys(
        peer,
        peer.emitted.filter((o) => o.item.type !== 'AVAILABILITY'),
      )
      assert.deepEqual(fresh, all)
      assert.equal(ctx.declared.length, 1, 'the same model is not declared again')
      assert.deepEqual(decodeAgentCheckpoint(ctx.checkpoints.at(-1) ?? ''), {
        instanceId: peer.instanceId,
        next: peer.nextSequence,
      })
    })

    for (const mode of ['error', 'skip'] as const) {
      test(`the agent's buffer moved past the stream (${mode === 'error' ? 'OUT_OF_RANGE' : 'firstSequence past our next'}): resynchronised, what it holds is read`, async (t) => {
        const peer = await startAgentPeer(t, { devices: [LATHE], bufferSize: 40, outOfRange: mode })
        const connector = agentConnector(peer)
        const ctx = await startOn(t, connector)
        await until(() => available(ctx, 'LATHE-A') && peer.openStreams === 1, 'streaming')
        const next = peer.nextSequence
        peer.hold()
        const values = Array.from({ length: 100 }, (_, i) => ({ id: 's_speed', value: String(i) }))
        peer.emit(values)
        peer.emit([{ id: 'program', value: 'P1' }])
        peer.release()
        await until(() => lastOf(published(ctx, 'LATHE-A'), 'program')?.value === 'P1', 'P1')
        const emitted = new Emitted()
        emitted.add(peer)
        const obs = published(ctx, 'LATHE-A')
        const h = historyOf(obs, emitted)
        assert.equal(connector.stats().resyncs, 1)
        assert.equal(connector.stats().lostSequences, peer.firstSequence - next)
        // What the agent still holds is there, in order; what it dropped is not.
        const held = keys(
          peer,
          peer.emitted.filter((o) => o.sequence >= peer.firstSequence),
        )
        assert.deepEqual(h.sequences.slice(-held.length), held)
        assert.deepEqual(
          obs
            .filter((o) => o.id === 's_speed')
            .map((o) => o.value)
            .slice(-39),
          Array.from({ length: 39 }, (_, i) => 61 + i),
        )
        assert.ok(
          ctx.availability.every((a) => a.available),
          'a resync does not take the asset down',
        )
      })
    }

    test('a malformed part: a coded error on avail, the connection restarted, nothing accepted lost', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      const connector = agentConnector(peer)
      const ctx = await startOn(t, connector)
      await until(() => available(ctx, 'LATHE-A') && peer.openStreams === 1, 'streaming')
      peer.emit([{ id: 's_speed', value: '1' }])
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 1, '1')
      peer.injectMalformed()
      await until(() => !available(ctx, 'LATHE-A'), 'down')
      const reason = ctx.availability.findLast((a) => !a.available)?.reason ?? ''
      assert.match(
        reason,
        json
          ? /^OFA_MTCONNECT_AGENT http:\/\/127\.0\.0\.1:\d+\/sample: the document is not valid JSON: /
          : /^OFA_MTCONNECT_AGENT http:\/\/127\.0\.0\.1:\d+\/sample: the document is not well-formed XML at line 2, column \d+/,
      )
      peer.emit([{ id: 's_speed', value: '2' }])
      await until(() => available(ctx, 'LATHE-A'), 'up again')
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 2, '2')
      const emitted = new Emitted()
      emitted.add(peer)
      const obs = published(ctx, 'LATHE-A')
      historyOf(obs, emitted)
      // 2 came while we were away: streamed after our UNAVAILABLE (1 is not restated: the stream brings a newer value).
      assert.deepEqual(
        obs.filter((o) => o.id === 's_speed').map((o) => [o.value, emitted.of(o) ? 'agent' : 'ours']),
        [
          ['UNAVAILABLE', 'agent'],
          [1, 'agent'],
          ['UNAVAILABLE', 'ours'],
          [2, 'agent'],
        ],
      )
      // execution did not change: restated after our UNAVAILABLE.
      assert.deepEqual(
        obs.filter((o) => o.id === 'execution').map((o) => [o.value, emitted.of(o) ? 'agent' : 'ours']),
        [
          ['UNAVAILABLE', 'agent'],
          ['UNAVAILABLE', 'ours'],
          ['UNAVAILABLE', 'agent'],
        ],
      )
      const last = decodeAgentCheckpoint(ctx.checkpoints.at(-1) ?? '')
      assert.equal(last?.next, peer.nextSequence)
    })

    test(`a part of ${MTCONNECT_MAX_DOCUMENT_BYTES} bytes is read; one byte more is refused, and the connection restarted`, async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      const connector = agentConnector(peer, { timings: { ...AGENT_FAST, heartbeatMs: 2000 } })
      const ctx = await startOn(t, connector)
      await until(() => available(ctx, 'LATHE-A') && peer.openStreams === 1, 'streaming')
      const parts = connector.stats().parts
      peer.injectOversized(MTCONNECT_MAX_DOCUMENT_BYTES)
      await until(() => connector.stats().parts > parts, 'the part at the limit read', 10_000)
      assert.ok(available(ctx, 'LATHE-A'))
      assert.equal(connector.stats().disconnects, 0)
      peer.injectOversized(MTCONNECT_MAX_DOCUMENT_BYTES + 1)
      await until(() => !available(ctx, 'LATHE-A'), 'down', 10_000)
      assert.match(
        ctx.availability.findLast((a) => !a.available)?.reason ?? '',
        new RegExp(
          `^OFA_MTCONNECT_AGENT GET http://127.0.0.1:\\d+/sample\\?[^:]+: a document of ${MTCONNECT_MAX_DOCUMENT_BYTES + 1} bytes or more is larger than the ${MTCONNECT_MAX_DOCUMENT_BYTES} bytes accepted$`,
        ),
      )
      peer.emit([{ id: 's_speed', value: '3' }])
      await until(() => available(ctx, 'LATHE-A'), 'up again')
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 3, '3')
    })

    test('a stream that stalls (no part, no heartbeat, for twice the heartbeat) is restarted', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE] })
      const connector = agentConnector(peer)
      const ctx = await startOn(t, connector)
      await until(() => available(ctx, 'LATHE-A') && peer.openStreams === 1, 'streaming')
      // Heartbeats alone keep it going.
      await new Promise((r) => setTimeout(r, 700))
      assert.equal(connector.stats().disconnects, 0)
      peer.hold()
      await until(() => !available(ctx, 'LATHE-A'), 'down')
      assert.match(
        ctx.availability.findLast((a) => !a.available)?.reason ?? '',
        /the stream stalled: no part for 400 ms$/,
      )
      peer.release()
      await until(() => available(ctx, 'LATHE-A'), 'up again')
    })

    test('a restart of the connector resumes from its checkpoint: no duplicate, no gap', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE], bufferSize: 200 })
      const emitted = new Emitted()
      const connector = agentConnector(peer)
      const first = await startOn(t, connector)
      await until(() => available(first, 'LATHE-A') && peer.openStreams === 1, 'streaming')
      peer.emit([
        { id: 's_speed', value: '1' },
        { id: 'execution', value: 'ACTIVE' },
      ])
      await until(() => lastOf(published(first, 'LATHE-A'), 's_speed')?.value === 1, '1')
      await stopOn(first, connector)
      const checkpoint = first.checkpoints.at(-1) as string
      // While it is stopped, the agent goes on.
      peer.emit([
        { id: 's_speed', value: '2' },
        { id: 's_speed', value: '3' },
      ])
      const again = new MTConnectAgentConnector({
        agent: { host: '127.0.0.1', port: peer.port },
        uuid: 'LATHE-A',
        timings: AGENT_FAST,
        intervalMs: 10,
      })
      const second = await startOn(t, again, checkpoint)
      await until(() => lastOf(published(second, 'LATHE-A'), 's_speed')?.value === 3, '3')
      peer.emit([{ id: 's_speed', value: '4' }])
      await until(() => lastOf(published(second, 'LATHE-A'), 's_speed')?.value === 4, '4')
      emitted.add(peer)
      // Both runs as one log: the declaration's UNAVAILABLE of the second start is what the log has between them.
      const declared = (second.declared[0]?.dataItems ?? []).map(
        (d): Observation => ({
          id: d.id,
          value: 'UNAVAILABLE',
          tag: d.tag,
          type: d.category,
          attributes: { timestamp: 'now', reason: 'not yet reported' },
        }),
      )
      const log = [...published(first, 'LATHE-A'), ...declared, ...published(second, 'LATHE-A')]
      const h = historyOf(log, emitted)
      const all = keys(
        peer,
        peer.emitted.filter((o: PeerObservation) => o.item.type !== 'AVAILABILITY'),
      )
      assert.deepEqual(h.sequences, all, 'every observation once, in order')
      assert.deepEqual(
        valuesOf(log, 's_speed').filter((v) => v !== 'UNAVAILABLE'),
        [1, 2, 3, 4],
      )
      assert.deepEqual(
        valuesOf(published(second, 'LATHE-A'), 'execution'),
        ['ACTIVE'],
        'restated after the declaration',
      )
      assert.ok(
        peer.requests.includes(
          `/sample?from=${decodeAgentCheckpoint(checkpoint)?.next}&count=1000&interval=10&heartbeat=200`,
        ),
      )
    })

    test('a checkpoint the agent no longer holds: from its first sequence; of another instance: all the new one holds', async (t) => {
      const peer = await startAgentPeer(t, { devices: [LATHE], bufferSize: 20 })
      peer.emit(Array.from({ length: 30 }, (_, i) => ({ id: 's_speed', value: String(i) })))
      const stale = JSON.stringify({ instanceId: peer.instanceId, next: 3 })
      const a = agentConnector(peer)
      const ctx = await startOn(t, a, stale)
      await until(() => available(ctx, 'LATHE-A') && peer.openStreams === 1, 'streaming')
      assert.equal(a.stats().lostSequences, peer.firstSequence - 3)
      assert.ok(peer.requests.includes(`/sample?from=${peer.firstSequence}&count=1000&interval=10&heartbeat=200`))
      await until(() => lastOf(published(ctx, 'LATHE-A'), 's_speed')?.value === 29, '29')
      // Exactly the values the agent holds, once each.
      assert.deepEqual(
        valuesOf(published(ctx, 'LATHE-A'), 's_speed'),
        peer.emitted
          .filter((o) => o.item.id === 's_speed' && o.sequence >= peer.firstSequence)
          .map((o) => Number((o.value as { value: string }).value)),
      )
      const emitted = new Emitted()
      emitted.add(peer)
      assert.deepEqual(historyOf(published(ctx, 'LATHE-A'), emitted).restated, [])

      const other = JSON.stringify({ instanceId: 'another', next: 5 })
      const b = agentConnector(peer)
      const ctx2 = await startOn(t, b, other)
      await until(() => available(ctx2, 'LATHE-A') && peer.openStreams === 2, 'streaming')
      assert.equal(b.stats().lostSequences, 0)
      assert.ok(
        peer.requests.filter((r) => r === `/sample?from=${peer.firstSequence}&count=1000&interval=10&heartbeat=200`)
          .length === 2,
      )
    })
  })
