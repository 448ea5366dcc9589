/**
 * The simulator connector: virtual assets that behave like machines, declared in YAML (model's
 * config/simulator-config.ts reads the block; `simulator-spec.ts` registers `connector.type: simulator`).
 * One timer per simulated asset samples every signal, advances state machines, counters and value cycles,
 * and raises and clears faults on their schedules. Samples are published every tick; events and conditions
 * only when they change. Methods change the simulation and answer with what they set; their arguments are
 * checked by model's `checkMethodArguments`, as everywhere.
 *
 * A simulated device can also misbehave on demand, as real ones do (tests, demos): `simulateDeviceLoss` (it goes
 * away: every item UNAVAILABLE, `avail` UNAVAILABLE with the reason, commands fail), `simulateDeviceReturn`, and
 * `simulateBadReading` (one reading it could not make: that item UNAVAILABLE with quality BAD and the reason).
 */

import type { SimItemSpec, SimulatorConfig } from '@openfactory/model'
import {
  type Asset,
  checkMethodArguments,
  type DataItem,
  isoTimestamp,
  type MethodContract,
  type Observation,
  OpenFactoryError,
  type UnsPlacement,
  unavailableObservation,
} from '@openfactory/model'
import type { CommandRequest, Connector, ConnectorContext } from '../connector.ts'
import { createRandom, gaussian } from './random.ts'

export interface SimulatorConnectorOptions {
  /** The asset's UUID (the device's `uuid`). */
  readonly uuid: string
  readonly config: SimulatorConfig
  readonly uns?: UnsPlacement
  /** Clock (tests). */
  readonly now?: () => number
}

interface ItemRuntime {
  readonly spec: SimItemSpec
  offset: number
  walk: number
  value: string | number | undefined
  nextAt: number
  index: number
  count: number
  faults: { raiseAt: number; clearAt: number | null }[]
}

export class SimulatorConnector implements Connector {
  readonly name: string
  readonly #opts: SimulatorConnectorOptions
  readonly #now: () => number
  readonly #random: () => number
  readonly #items = new Map<string, ItemRuntime>()
  #ctx: ConnectorContext | null = null
  #timer: NodeJS.Timeout | null = null
  #t0 = 0
  /** Why the simulated device is away (`simulateDeviceLoss`), or null while it is there. */
  #lost: string | null = null

  constructor(opts: SimulatorConnectorOptions) {
    this.name = opts.uuid
    this.#opts = opts
    this.#now = opts.now ?? Date.now
    this.#random = createRandom(opts.config.seed)
  }

  /** The asset model this simulator declares. */
  asset(): Asset {
    const dataItems: DataItem[] = this.#opts.config.items.map((s) => ({
      id: s.id,
      category: s.category,
      tag: s.tag,
      ...(s.units ? { units: s.units } : {}),
      ...(s.subType ? { subType: s.subType } : {}),
      ...(s.states
        ? { constraints: { values: [...s.states.keys()] } }
        : s.values
          ? { constraints: { values: s.values } }
          : {}),
    }))
    const methods: MethodContract[] = this.#opts.config.methods.map((m) => ({
      name: m.name,
      description: m.description,
      arguments: m.arguments,
    }))
    return {
      uuid: this.#opts.uuid,
      type: this.#opts.config.assetType,
      ...(this.#opts.uns ? { uns: this.#opts.uns } : {}),
      referencesAbove: [],
      referencesBelow: [],
      dataItems,
      methods,
    }
  }

  async start(ctx: ConnectorContext): Promise<void> {
    this.#ctx = ctx
    this.#lost = null
    const now = this.#now()
    this.#t0 = now
    this.#items.clear()
    for (const spec of this.#opts.config.items) {
      const rt: ItemRuntime = {
        spec,
        offset: spec.signal?.offset ?? 0,
        walk: spec.signal?.start ?? 0,
        value: undefined,
        nextAt: Number.POSITIVE_INFINITY,
        index: 0,
        count: 0,
        faults: (spec.faults ?? []).map((f) => ({ raiseAt: now + f.startS * 1000, clearAt: null })),
      }
      this.#items.set(spec.id, rt)
    }
    ctx.declareAssets([this.asset()])
    ctx.setAvailable(this.#opts.uuid, true)
    const initial: Observation[] = []
    for (const rt of this.#items.values()) {
      const o = this.#initial(rt, now)
      if (o) initial.push(o)
    }
    ctx.publish(this.#opts.uuid, initial)
    this.#timer = setInterval(() => this.#tick(), this.#opts.config.intervalMs)
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    this.#ctx = null
  }

  async execute(req: CommandRequest): Promise<unknown> {
    const method = this.#opts.config.methods.find((m) => m.name === req.method)
    if (!method) throw new OpenFactoryError('OFA_COMMAND_REJECTED', `no method ${req.method}`)
    checkMethodArguments(method, req.arguments)
    if (this.#lost !== null) throw new OpenFactoryError('OFA_COMMAND_FAILED', `the device is away: ${this.#lost}`)
    const now = this.#now()
    const changes: Observation[] = []
    const result: Record<string, unknown> = {}
    for (const [id, setting] of method.set) {
      const rt = this.#items.get(id) as ItemRuntime
      const value = typeof setting === 'string' && setting.startsWith('$') ? req.arguments[setting.slice(1)] : setting
      if (value === undefined) continue
      if (rt.spec.category === 'Samples') {
        const n = Number(value)
        if (!Number.isFinite(n))
          throw new OpenFactoryError('OFA_COMMAND_REJECTED', `${id} needs a number, got ${JSON.stringify(value)}`)
        rt.offset = n
        rt.walk = n
        const o = this.#sample(rt, now)
        changes.push(o)
        result[id] = n
      } else {
        const text = String(value)
        if (rt.spec.states && !rt.spec.states.has(text)) {
          throw new OpenFactoryError(
            'OFA_COMMAND_REJECTED',
            `${id} has no state ${text}; states: ${[...rt.spec.states.keys()].join(', ')}`,
          )
        }
        if (rt.spec.states) this.#enterState(rt, text, now)
        else rt.value = text
        changes.push(this.#event(rt, now))
        result[id] = text
      }
    }
    this.#ctx?.publish(this.#opts.uuid, changes)
    return result
  }

  /** The simulated device goes away: every item UNAVAILABLE with `reason`, then `avail` UNAVAILABLE; ticks stop. */
  simulateDeviceLoss(reason = 'the simulated device went away'): void {
    const ctx = this.#ctx
    if (!ctx || this.#lost !== null) return
    this.#lost = reason
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    const now = this.#now()
    ctx.publish(
      this.#opts.uuid,
      [...this.#items.values()].map((rt) =>
        unavailableObservation({ id: rt.spec.id, tag: rt.spec.tag, type: rt.spec.category }, reason, now),
      ),
    )
    ctx.setAvailable(this.#opts.uuid, false, reason)
  }

  /** The simulated device is back: AVAILABLE, its current values published again, ticks resume. */
  simulateDeviceReturn(): void {
    const ctx = this.#ctx
    if (!ctx || this.#lost === null) return
    this.#lost = null
    ctx.setAvailable(this.#opts.uuid, true)
    const now = this.#now()
    const current: Observation[] = []
    for (const rt of this.#items.values()) {
      const s = rt.spec
      if (s.category === 'Samples') current.push(this.#sample(rt, now))
      else if (s.category === 'Condition') current.push(this.#condition(rt, 'NORMAL', now))
      else if (rt.value !== undefined) current.push(this.#event(rt, now))
    }
    ctx.publish(this.#opts.uuid, current)
    this.#timer = setInterval(() => this.#tick(), this.#opts.config.intervalMs)
  }

  /** One reading the simulated device could not make: item `id` UNAVAILABLE, quality BAD, with `reason`. */
  simulateBadReading(id: string, reason = 'the simulated sensor gave no valid reading'): void {
    const rt = this.#items.get(id)
    if (!rt) throw new OpenFactoryError('OFA_CONNECTOR_CONFIG', `the simulator has no item ${id}`)
    this.#ctx?.publish(this.#opts.uuid, [
      unavailableObservation({ id, tag: rt.spec.tag, type: rt.spec.category }, reason, this.#now()),
    ])
  }

  // --- simulation ---------------------------------------------------------------------------------------

  #initial(rt: ItemRuntime, now: number): Observation | null {
    const s = rt.spec
    if (s.category === 'Samples') return s.signal ? this.#sample(rt, now) : null
    if (s.category === 'Condition') return this.#condition(rt, 'NORMAL', now)
    if (s.states) this.#enterState(rt, s.initial as string, now)
    else if (s.values) {
      rt.value = s.values[0]
      rt.nextAt = now + (s.everyS as number) * 1000
    } else if (s.counter) {
      rt.value = 0
      rt.nextAt = now + s.counter.everyS * 1000
    } else if (s.value !== undefined) rt.value = s.value
    else return null
    return this.#event(rt, now)
  }

  #enterState(rt: ItemRuntime, state: string, now: number): void {
    const spec = rt.spec.states?.get(state)
    rt.value = state
    if (!spec || spec.next.length === 0) {
      rt.nextAt = Number.POSITIVE_INFINITY
      return
    }
    const [lo, hi] = spec.afterS
    rt.nextAt = now + (lo + (hi - lo) * this.#random()) * 1000
  }

  #tick(): void {
    const ctx = this.#ctx
    if (!ctx) return
    const now = this.#now()
    const out: Observation[] = []
    for (const rt of this.#items.values()) {
      const s = rt.spec
      if (s.signal) out.push(this.#sample(rt, now))
      if (now >= rt.nextAt) {
        if (s.states) {
          const next = s.states.get(String(rt.value))?.next ?? []
          this.#enterState(rt, next[Math.floor(this.#random() * next.length)] as string, now)
          out.push(this.#event(rt, now))
        } else if (s.values) {
          rt.index = (rt.index + 1) % s.values.length
          rt.value = s.values[rt.index]
          rt.nextAt += (s.everyS as number) * 1000
          out.push(this.#event(rt, now))
        } else if (s.counter) {
          rt.nextAt += s.counter.everyS * 1000
          const gate = s.counter.whileItem ? this.#items.get(s.counter.whileItem)?.value : undefined
          if (!s.counter.whileItem || String(gate) === s.counter.whileValue) {
            rt.count++
            rt.value = rt.count
            out.push(this.#event(rt, now))
          }
        }
      }
      s.faults?.forEach((f, i) => {
        const st = rt.faults[i] as ItemRuntime['faults'][number]
        if (st.clearAt !== null && now >= st.clearAt) {
          st.clearAt = null
          out.push(this.#condition(rt, 'NORMAL', now, f.nativeCode))
        }
        if (st.clearAt === null && now >= st.raiseAt) {
          st.clearAt = now + f.durationS * 1000
          st.raiseAt += f.everyS * 1000
          out.push(this.#condition(rt, f.level, now, f.nativeCode, f.message))
        }
      })
    }
    if (out.length > 0) ctx.publish(this.#opts.uuid, out)
  }

  #sample(rt: ItemRuntime, now: number): Observation {
    const sig = rt.spec.signal
    let v = rt.offset
    if (sig) {
      const t = (now - this.#t0) / 1000
      switch (sig.kind) {
        case 'sine':
          v = rt.offset + sig.amplitude * Math.sin((2 * Math.PI * t) / sig.periodS)
          break
        case 'ramp': {
          const phase = (t % sig.periodS) / sig.periodS
          v = sig.from + (sig.to - sig.from) * phase
          break
        }
        case 'random_walk':
          rt.walk += sig.step * (this.#random() * 2 - 1)
          if (sig.min !== undefined) rt.walk = Math.max(sig.min, rt.walk)
          if (sig.max !== undefined) rt.walk = Math.min(sig.max, rt.walk)
          v = rt.walk
          break
        default:
          v = rt.offset
      }
      if (sig.noise > 0) v += sig.noise * gaussian(this.#random)
      if (sig.min !== undefined) v = Math.max(sig.min, v)
      if (sig.max !== undefined) v = Math.min(sig.max, v)
      const f = 10 ** sig.decimals
      v = Math.round(v * f) / f
    }
    rt.value = v
    const attributes: Observation['attributes'] = { timestamp: isoTimestamp(now) }
    if (rt.spec.units) attributes.units = rt.spec.units
    if (rt.spec.subType) attributes.subType = rt.spec.subType
    return { id: rt.spec.id, value: v, tag: rt.spec.tag, type: 'Samples', attributes }
  }

  #event(rt: ItemRuntime, now: number): Observation {
    const attributes: Observation['attributes'] = { timestamp: isoTimestamp(now) }
    if (rt.spec.subType) attributes.subType = rt.spec.subType
    return { id: rt.spec.id, value: String(rt.value), tag: rt.spec.tag, type: 'Events', attributes }
  }

  #condition(
    rt: ItemRuntime,
    level: 'NORMAL' | 'WARNING' | 'FAULT',
    now: number,
    nativeCode?: string,
    message?: string,
  ): Observation {
    const attributes: Observation['attributes'] = { timestamp: isoTimestamp(now) }
    if (nativeCode !== undefined) attributes.nativeCode = nativeCode
    if (message) attributes.message = message
    return { id: rt.spec.id, value: level, tag: rt.spec.tag, type: 'Condition', attributes }
  }
}

export function createSimulatorConnector(opts: SimulatorConnectorOptions): SimulatorConnector {
  return new SimulatorConnector(opts)
}
