/**
 * The simulator's configuration: `connector.type: simulator` in a device file (the simulator itself lives in
 * @openfactory/connectors; its configuration is here so that `ofa validate` checks it with file positions). Keys are snake_case like
 * their neighbours in the reference's device files.
 *
 *   connector:
 *     type: simulator
 *     interval_ms: 500            # how often signals are sampled (default 1000)
 *     seed: 7                     # makes the randomness repeatable (default: random)
 *     items:
 *       spindle_speed: {tag: RotaryVelocity, category: Samples, units: REVOLUTION/MINUTE,
 *                       signal: sine, offset: 1200, amplitude: 300, period_s: 60, noise: 5}
 *       execution:     {tag: Execution, category: Events, initial: READY,
 *                       states: {READY: {next: ACTIVE, after_s: 5}, ACTIVE: {next: [READY, STOPPED], after_s: [20, 40]}}}
 *       program:       {tag: Program, category: Events, values: [O1001, O1002], every_s: 30}
 *       part_count:    {tag: PartCount, category: Events, counter: {every_s: 15, while: {execution: ACTIVE}}}
 *       system:        {tag: System, category: Condition,
 *                       faults: [{native_code: E101, level: FAULT, message: Spindle overtemp, every_s: 120, duration_s: 15}]}
 *     methods:
 *       SetSpeed: {description: Set the spindle speed,
 *                  arguments: [{name: rpm, description: target speed, type: number, required: true}],
 *                  set: {spindle_speed: $rpm}}
 *
 * Signals (Samples): `sine` (offset, amplitude, period_s), `random_walk` (start, step, min, max), `ramp`
 * (from, to, period_s; sawtooth), `noise` (offset and `noise` as standard deviation), `constant` (offset).
 * `noise` adds Gaussian noise to any signal; `min`/`max` clamp; `decimals` rounds (default 3).
 * Events: a state machine (`states`, `initial`), a cycle of `values` changing `every_s`, a `counter`
 * (optionally counting only while another item has a value), or a fixed `value`.
 * Conditions: `faults` raised every `every_s` for `duration_s` (first after `start_s`, default `every_s`).
 * A method's `set` changes items: `$arg` takes the argument's value; a Samples item gets a new offset
 * (the centre of its signal), an Events item a new value (a state machine jumps to that state).
 */
import type { DataItemCategory, MethodArgument } from '../asset.ts'
import { OpenFactoryError } from '../errors.ts'
import type { PathSegment } from './check-value.ts'
import { printable } from './printable.ts'

export type SignalKind = 'sine' | 'random_walk' | 'ramp' | 'noise' | 'constant'

export interface SignalSpec {
  readonly kind: SignalKind
  readonly offset: number
  readonly amplitude: number
  readonly periodS: number
  readonly from: number
  readonly to: number
  readonly start: number
  readonly step: number
  readonly noise: number
  readonly min?: number
  readonly max?: number
  readonly decimals: number
}

export interface StateSpec {
  readonly next: readonly string[]
  /** Duration range in seconds: [min, max]. */
  readonly afterS: readonly [number, number]
}

export interface FaultSpec {
  readonly nativeCode: string
  readonly level: 'WARNING' | 'FAULT'
  readonly message: string
  readonly everyS: number
  readonly durationS: number
  readonly startS: number
}

export interface SimItemSpec {
  readonly id: string
  readonly tag: string
  readonly category: DataItemCategory
  readonly units?: string
  readonly subType?: string
  readonly signal?: SignalSpec
  readonly states?: ReadonlyMap<string, StateSpec>
  readonly initial?: string
  readonly values?: readonly string[]
  readonly everyS?: number
  readonly counter?: { readonly everyS: number; readonly whileItem?: string; readonly whileValue?: string }
  readonly value?: string
  readonly faults?: readonly FaultSpec[]
}

export interface SimMethodSpec {
  readonly name: string
  readonly description: string
  readonly arguments: readonly MethodArgument[]
  /** item id → literal value or `$argument`. */
  readonly set: ReadonlyMap<string, unknown>
}

export interface SimulatorConfig {
  readonly intervalMs: number
  readonly seed?: number
  readonly assetType: string
  readonly items: readonly SimItemSpec[]
  readonly methods: readonly SimMethodSpec[]
}

type Raw = Record<string, unknown>

/** Receives each problem with its path relative to the connector block. */
export type SimulatorReport = (path: readonly PathSegment[], message: string) => void

/** Paths are written as dotted text (`items.a.states`) in this file and split here: item ids never hold dots. */
function segments(at: string): PathSegment[] {
  return at === ''
    ? []
    : at.split('.').flatMap((part) => {
        const m = /^(.*)\[(\d+)\]$/.exec(part)
        return m ? [m[1] as string, Number(m[2])] : [part]
      })
}

class Reader {
  readonly #report: SimulatorReport
  count = 0
  constructor(report: SimulatorReport) {
    this.#report = report
  }
  fail(at: string, message: string): void {
    this.count++
    this.#report(segments(at), message)
  }
  map(v: unknown, at: string): Raw {
    if (v === undefined || v === null) return {}
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.fail(at, 'expected a map')
      return {}
    }
    return v as Raw
  }
  num(v: unknown, at: string, dflt: number, min = Number.NEGATIVE_INFINITY): number {
    if (v === undefined) return dflt
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      this.fail(at, `expected a number${min > Number.NEGATIVE_INFINITY ? ` ≥ ${min}` : ''}, got ${JSON.stringify(v)}`)
      return dflt
    }
    return v
  }
  str(v: unknown, at: string, dflt?: string): string | undefined {
    if (v === undefined) return dflt
    if (typeof v !== 'string' && typeof v !== 'number') {
      this.fail(at, `expected text, got ${JSON.stringify(v)}`)
      return dflt
    }
    return String(v)
  }
}

const SIGNALS: readonly SignalKind[] = ['sine', 'random_walk', 'ramp', 'noise', 'constant']
const CATEGORIES: readonly DataItemCategory[] = ['Samples', 'Events', 'Condition']

function range(r: Reader, v: unknown, at: string): [number, number] {
  if (Array.isArray(v) && v.length === 2) {
    const a = r.num(v[0], `${at}[0]`, 1, 0)
    const b = r.num(v[1], `${at}[1]`, a, a)
    return [a, b]
  }
  const n = r.num(v, at, 1, 0)
  return [n, n]
}

/** Reads and checks a simulator block; throws OFA_CONFIG_INVALID listing every problem (each OFA_CONNECTOR_CONFIG). */
export function parseSimulatorConfig(raw: unknown, path = 'connector'): SimulatorConfig {
  const problems: OpenFactoryError[] = []
  const config = readSimulatorConfig(raw, (at, message) => {
    const where = [path, ...at]
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('')
      .slice(1)
    // Keys and values of the block are quoted: printed safely.
    problems.push(
      new OpenFactoryError('OFA_CONNECTOR_CONFIG', printable(`${where}: ${message}`), {
        where: { path: printable(where) },
      }),
    )
  })
  if (problems.length > 0) {
    throw new OpenFactoryError(
      'OFA_CONFIG_INVALID',
      `${path}: ${problems.length} problem(s) in the simulator configuration`,
      {
        problems,
      },
    )
  }
  return config
}

/** Reads a simulator block, reporting every problem; the result is only meaningful when nothing was reported. */
export function readSimulatorConfig(raw: unknown, report: SimulatorReport): SimulatorConfig {
  const r = new Reader(report)
  const c = r.map(raw, '')
  const items: SimItemSpec[] = []
  const rawItems = r.map(c.items, 'items')
  for (const [id, value] of Object.entries(rawItems)) {
    const at = `items.${id}`
    const it = r.map(value, at)
    const category = it.category as DataItemCategory
    if (!CATEGORIES.includes(category)) r.fail(`${at}.category`, `expected one of ${CATEGORIES.join(', ')}`)
    const tag = r.str(it.tag, `${at}.tag`) ?? ''
    if (tag === '') r.fail(`${at}.tag`, 'is required')
    let signal: SignalSpec | undefined
    if (it.signal !== undefined) {
      const kind = it.signal as SignalKind
      if (!SIGNALS.includes(kind)) r.fail(`${at}.signal`, `expected one of ${SIGNALS.join(', ')}`)
      const periodS = r.num(it.period_s, `${at}.period_s`, 60, Number.MIN_VALUE)
      signal = {
        kind,
        offset: r.num(it.offset, `${at}.offset`, 0),
        amplitude: r.num(it.amplitude, `${at}.amplitude`, 1),
        periodS,
        from: r.num(it.from, `${at}.from`, 0),
        to: r.num(it.to, `${at}.to`, 100),
        start: r.num(it.start, `${at}.start`, r.num(it.offset, `${at}.offset`, 0)),
        step: r.num(it.step, `${at}.step`, 1, 0),
        noise: r.num(it.noise, `${at}.noise`, 0, 0),
        decimals: r.num(it.decimals, `${at}.decimals`, 3, 0),
        ...(it.min !== undefined ? { min: r.num(it.min, `${at}.min`, 0) } : {}),
        ...(it.max !== undefined ? { max: r.num(it.max, `${at}.max`, 0) } : {}),
      }
      if (category !== 'Samples') r.fail(`${at}.signal`, 'signals drive Samples items only')
    }
    let states: Map<string, StateSpec> | undefined
    if (it.states !== undefined) {
      states = new Map()
      for (const [name, sv] of Object.entries(r.map(it.states, `${at}.states`))) {
        const s = r.map(sv, `${at}.states.${name}`)
        const next = (Array.isArray(s.next) ? s.next : [s.next]).map((n) => String(n))
        states.set(name, { next, afterS: range(r, s.after_s ?? 10, `${at}.states.${name}.after_s`) })
      }
      for (const [name, s] of states) {
        for (const n of s.next) if (!states.has(n)) r.fail(`${at}.states.${name}.next`, `names the unknown state ${n}`)
      }
    }
    const initial = r.str(it.initial, `${at}.initial`)
    if (states && initial !== undefined && !states.has(initial)) r.fail(`${at}.initial`, `is not one of the states`)
    let counter: SimItemSpec['counter']
    if (it.counter !== undefined) {
      const cr = r.map(it.counter, `${at}.counter`)
      const w = r.map(cr.while, `${at}.counter.while`)
      const [whileItem, whileValue] = Object.entries(w)[0] ?? []
      counter = {
        everyS: r.num(cr.every_s, `${at}.counter.every_s`, 10, Number.MIN_VALUE),
        ...(whileItem !== undefined ? { whileItem, whileValue: String(whileValue) } : {}),
      }
    }
    const faults: FaultSpec[] = []
    if (it.faults !== undefined) {
      if (!Array.isArray(it.faults)) r.fail(`${at}.faults`, 'expected a list')
      else
        it.faults.forEach((fv, i) => {
          const f = r.map(fv, `${at}.faults[${i}]`)
          const level = f.level ?? 'FAULT'
          if (level !== 'FAULT' && level !== 'WARNING') r.fail(`${at}.faults[${i}].level`, 'expected FAULT or WARNING')
          const everyS = r.num(f.every_s, `${at}.faults[${i}].every_s`, 60, Number.MIN_VALUE)
          faults.push({
            nativeCode: r.str(f.native_code, `${at}.faults[${i}].native_code`, `F${i + 1}`) as string,
            level: level as 'FAULT' | 'WARNING',
            message: r.str(f.message, `${at}.faults[${i}].message`, '') as string,
            everyS,
            durationS: r.num(f.duration_s, `${at}.faults[${i}].duration_s`, 5, 0),
            startS: r.num(f.start_s, `${at}.faults[${i}].start_s`, everyS, 0),
          })
        })
      if (category !== 'Condition') r.fail(`${at}.faults`, 'faults drive Condition items only')
    }
    const values = it.values === undefined ? undefined : Array.isArray(it.values) ? it.values.map(String) : undefined
    if (it.values !== undefined && !values) r.fail(`${at}.values`, 'expected a list')
    const known = new Set([
      'tag',
      'category',
      'units',
      'sub_type',
      'signal',
      'offset',
      'amplitude',
      'period_s',
      'from',
      'to',
      'start',
      'step',
      'noise',
      'min',
      'max',
      'decimals',
      'states',
      'initial',
      'values',
      'every_s',
      'counter',
      'value',
      'faults',
    ])
    for (const k of Object.keys(it)) if (!known.has(k)) r.fail(`${at}.${k}`, 'is not a simulator item field')
    items.push({
      id,
      tag,
      category,
      ...(it.units !== undefined ? { units: r.str(it.units, `${at}.units`) } : {}),
      ...(it.sub_type !== undefined ? { subType: r.str(it.sub_type, `${at}.sub_type`) } : {}),
      ...(signal ? { signal } : {}),
      ...(states ? { states, initial: initial ?? (states.keys().next().value as string) } : {}),
      ...(values ? { values, everyS: r.num(it.every_s, `${at}.every_s`, 30, Number.MIN_VALUE) } : {}),
      ...(counter ? { counter } : {}),
      ...(it.value !== undefined ? { value: String(it.value) } : {}),
      ...(faults.length > 0 ? { faults } : {}),
    })
  }
  const ids = new Set(items.map((i) => i.id))
  for (const it of items) {
    if (it.counter?.whileItem && !ids.has(it.counter.whileItem))
      r.fail(`items.${it.id}.counter.while`, `names the unknown item ${it.counter.whileItem}`)
  }
  const methods: SimMethodSpec[] = []
  for (const [name, mv] of Object.entries(r.map(c.methods, 'methods'))) {
    const at = `methods.${name}`
    const m = r.map(mv, at)
    const args: MethodArgument[] = []
    if (m.arguments !== undefined && !Array.isArray(m.arguments)) r.fail(`${at}.arguments`, 'expected a list')
    for (const [i, av] of (Array.isArray(m.arguments) ? m.arguments : []).entries()) {
      const a = r.map(av, `${at}.arguments[${i}]`)
      const type = a.type as MethodArgument['type']
      if (type !== undefined && !['number', 'string', 'boolean', 'object'].includes(type)) {
        r.fail(`${at}.arguments[${i}].type`, 'expected number, string, boolean or object')
      }
      args.push({
        name: r.str(a.name, `${at}.arguments[${i}].name`, `arg${i}`) as string,
        ...(a.description !== undefined
          ? { description: r.str(a.description, `${at}.arguments[${i}].description`) }
          : {}),
        ...(type ? { type } : {}),
        ...(a.required !== undefined ? { required: a.required === true } : {}),
      })
    }
    const set = new Map(Object.entries(r.map(m.set, `${at}.set`)))
    for (const [item, v] of set) {
      if (!ids.has(item)) r.fail(`${at}.set.${item}`, `names the unknown item ${item}`)
      if (typeof v === 'string' && v.startsWith('$') && !args.some((a) => a.name === v.slice(1))) {
        r.fail(`${at}.set.${item}`, `uses ${v}, which is not an argument of ${name}`)
      }
    }
    methods.push({ name, description: r.str(m.description, `${at}.description`, name) as string, arguments: args, set })
  }
  const intervalMs = r.num(c.interval_ms, 'interval_ms', 1000, 10)
  const assetType = r.str(c.asset_type, 'asset_type', 'Device') as string
  const known = new Set(['type', 'interval_ms', 'seed', 'asset_type', 'items', 'methods'])
  for (const k of Object.keys(c)) if (!known.has(k)) r.fail(k, 'is not a simulator field')
  return {
    intervalMs,
    ...(typeof c.seed === 'number' ? { seed: c.seed } : {}),
    assetType,
    items,
    methods,
  }
}
