/**
 * Spindle overload, per machine: a derived data item `spindle_overload` (Events) of the machine itself —
 * `OVERLOAD` once its spindle load has stayed above THRESHOLD percent for SAMPLES samples in a row, `NORMAL` again
 * at the first sample at or below it, `UNAVAILABLE` while the load is. Only changes are written, each with the
 * source time of the load sample that caused it.
 *
 * The demo's machines: the simulated CNC's `spindle_load` (heavy cuts: 55 ± 30 % over 90 s, a sample every 500 ms,
 * so an overload is 3 s above 75 %, once per cycle) and the MTConnect mill's `s_load` (30–40 % through its recorded
 * shift: NORMAL). The run of samples above the threshold lives in the store `runs`, so a restart goes on counting.
 *
 * Run by `ofa up` (factory.yaml `processors:`); only types are imported, so the file needs nothing installed
 * beside it. docs/guides/stream-processing.md#typescript-processors tells the API.
 */
import type { ProcessorDefinition } from '@openfactory/sql'

/** Spindle load, in percent, above which a sample counts towards an overload. */
export const THRESHOLD = 75
/** Samples in a row above THRESHOLD that make an overload. */
export const SAMPLES = 6
/** The spindle load item of each kind of machine of the demo (the simulated CNC's, the mill's Devices.xml's). */
const LOAD_ITEMS: ReadonlySet<string> = new Set(['spindle_load', 's_load'])

type OverloadState = 'NORMAL' | 'OVERLOAD' | 'UNAVAILABLE'

/** Per machine: samples in a row above the threshold, and the state last written. */
interface Run {
  readonly above: number
  readonly state: OverloadState
}

export default {
  id: 'spindle-overload',
  // inputs and outputs default to ofa_assets: the derived item is one more item of the machine.
  stores: ['runs'],
  process(record, ctx) {
    const asset = ctx.asset(record)
    if (asset?.event.kind !== 'observation') return
    const o = asset.observation
    if (o.type !== 'Samples' || !LOAD_ITEMS.has(o.id)) return
    const load = typeof o.value === 'number' ? o.value : o.value === 'UNAVAILABLE' ? Number.NaN : Number(o.value)
    const runs = ctx.store<Run>('runs')
    const previous = runs.get(asset.assetUuid)
    const above = load > THRESHOLD ? (previous?.above ?? 0) + 1 : 0
    const state: OverloadState = Number.isNaN(load) ? 'UNAVAILABLE' : above >= SAMPLES ? 'OVERLOAD' : 'NORMAL'
    runs.put(asset.assetUuid, { above, state })
    if (previous?.state === state) return
    ctx.emitObservation(asset.assetUuid, {
      id: 'spindle_overload',
      tag: 'SpindleOverload',
      type: 'Events',
      value: state,
      ...(state === 'UNAVAILABLE' ? { attributes: { quality: 'BAD', reason: `${o.id} is UNAVAILABLE` } } : {}),
    })
  },
} satisfies ProcessorDefinition
