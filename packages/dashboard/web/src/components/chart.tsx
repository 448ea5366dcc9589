/**
 * A uPlot time-series chart. Dragging across the plot selects a time range: `onZoom` gets it (the page then asks
 * the server for that range at the new resolution, rather than stretching the old buckets). The x scale is the
 * page's view (not the data's extent), so a range with gaps shows them.
 */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import type { Columns } from '../chart-data.ts'

export interface ChartSeries {
  readonly label: string
  /** Series of the same units share a y axis. */
  readonly units?: string
}

const COLORS = ['#1f5fa8', '#c0392b', '#27864a', '#8e44ad', '#b9770e', '#17808a', '#555']

export function Chart(props: {
  series: readonly ChartSeries[]
  data: Columns
  view: { from: number; to: number }
  onZoom: (from: number, to: number) => void
  height?: number
}) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const view = useRef(props.view)
  const onZoom = useRef(props.onZoom)
  view.current = props.view
  onZoom.current = props.onZoom
  const shape = props.series.map((s) => `${s.label}|${s.units ?? ''}`).join(',')

  useEffect(() => {
    const el = box.current
    if (!el) return
    const unitKeys = [...new Set(props.series.map((s) => s.units ?? ''))]
    const scaleOf = (units: string | undefined) => `y${unitKeys.indexOf(units ?? '')}`
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: props.height ?? 320,
      scales: {
        x: { time: true, range: () => [view.current.from / 1000, view.current.to / 1000] },
      },
      series: [
        { label: 'time' },
        ...props.series.map((s, i) => ({
          label: s.units ? `${s.label} (${s.units})` : s.label,
          scale: scaleOf(s.units),
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: false,
          points: { show: false },
        })),
      ],
      axes: [
        {},
        ...unitKeys.slice(0, 2).map((u, i) => ({
          scale: `y${i}`,
          label: u || undefined,
          side: i === 0 ? 3 : 1,
          grid: { show: i === 0 },
        })),
      ],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width < 4) return
            const from = u.posToVal(u.select.left, 'x') * 1000
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
            onZoom.current(Math.round(from), Math.round(to))
          },
        ],
      },
    }
    const u = new uPlot(opts, props.data as uPlot.AlignedData, el)
    plot.current = u
    const ro = new ResizeObserver(() =>
      u.setSize({ width: Math.max(300, el.clientWidth), height: props.height ?? 320 }),
    )
    ro.observe(el)
    return () => {
      ro.disconnect()
      u.destroy()
      plot.current = null
    }
    // Recreated when the series change; data and view go through setData below.
  }, [shape])

  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData)
  }, [props.data, props.view.from, props.view.to])

  return <div class="chart" ref={box} />
}
