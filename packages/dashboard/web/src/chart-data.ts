/**
 * Downsampled history (`GET /api/assets/{uuid}/history?buckets=`) into uPlot's columns: one x column (bucket starts,
 * in seconds, ascending, the union over every series) and one y column per series (the bucket's average; its last
 * value when that is a number and the average is null; null where the series has no bucket: the line breaks
 * there, no value is invented). Pure: no DOM.
 */
import type { Downsampled } from './types.ts'

export type Columns = [number[], ...(number | null)[][]]

export function toColumns(d: Pick<Downsampled, 'series'>): Columns {
  const times = new Set<number>()
  for (const s of d.series) for (const b of s.buckets) times.add(Date.parse(b.t))
  const xs = [...times].filter((t) => !Number.isNaN(t)).sort((a, b) => a - b)
  const ys = d.series.map((s) => {
    const at = new Map<number, number | null>()
    for (const b of s.buckets) {
      const v = b.avg ?? (typeof b.last === 'number' ? b.last : null)
      at.set(Date.parse(b.t), v)
    }
    return xs.map((x) => at.get(x) ?? null)
  })
  return [xs.map((x) => x / 1000), ...ys]
}

/** The buckets to ask for: one per two pixels of plot, within the API's 1..10 000. */
export function bucketsFor(widthPx: number): number {
  return Math.max(1, Math.min(10_000, Math.round(widthPx / 2)))
}

/** A view moved by `fraction` of its width (negative: earlier). */
export function pan(view: { from: number; to: number }, fraction: number): { from: number; to: number } {
  const d = (view.to - view.from) * fraction
  return { from: Math.round(view.from + d), to: Math.round(view.to + d) }
}

/** A view zoomed around its centre by `factor` (2: twice as wide), at least one second wide. */
export function zoom(view: { from: number; to: number }, factor: number): { from: number; to: number } {
  const mid = (view.from + view.to) / 2
  const half = Math.max(500, ((view.to - view.from) * factor) / 2)
  return { from: Math.round(mid - half), to: Math.round(mid + half) }
}
