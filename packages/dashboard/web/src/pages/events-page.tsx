/**
 * Events: the live stream of observations, filtered on the server by a UNS pattern (`Demofactory/Machining/#`, `+`
 * one level) and here by type (Samples, Events, Condition, the rest). Pausable: while paused, what arrives is
 * counted, not shown. The last 300 are kept; the table is redrawn at most once per animation frame however fast
 * they come.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { Link } from '../components/link.tsx'
import { localTime, value as show } from '../format.ts'
import { live } from '../live.ts'
import { assetHref } from '../router.ts'
import type { ItemState } from '../types.ts'

const KEEP = 300
const TYPES = ['Samples', 'Events', 'Condition', 'Other'] as const
type Kind = (typeof TYPES)[number]

function kindOf(item: ItemState): Kind {
  return item.type === 'Samples' || item.type === 'Events' || item.type === 'Condition' ? item.type : 'Other'
}

interface Row {
  readonly n: number
  readonly item: ItemState
}

export function EventsPage() {
  const [pattern, setPattern] = useState('')
  const [applied, setApplied] = useState('')
  const [types, setTypes] = useState<ReadonlySet<Kind>>(new Set(['Samples', 'Events', 'Condition']))
  const [paused, setPaused] = useState(false)
  const [rows, setRows] = useState<readonly Row[]>([])
  const [missed, setMissed] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const buffer = useRef<Row[]>([])
  const seq = useRef(0)
  const frame = useRef<number | null>(null)
  const pausedRef = useRef(paused)
  const typesRef = useRef(types)
  pausedRef.current = paused
  typesRef.current = types

  useEffect(() => {
    setError(null)
    buffer.current = []
    setRows([])
    const flush = () => {
      frame.current = null
      setRows([...buffer.current])
    }
    return live.subscribe(applied ? { uns: applied } : {}, {
      snapshot() {
        // The current state is not an event: the stream starts with what changes from now on.
      },
      update(item) {
        if (!typesRef.current.has(kindOf(item))) return
        if (pausedRef.current) {
          setMissed((m) => m + 1)
          return
        }
        buffer.current.unshift({ n: ++seq.current, item })
        if (buffer.current.length > KEEP) buffer.current.length = KEEP
        frame.current ??= requestAnimationFrame(flush)
      },
      error: (msg) => setError(msg),
    })
  }, [applied])

  useEffect(
    () => () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current)
    },
    [],
  )

  return (
    <section aria-labelledby="events-heading">
      <h1 id="events-heading">Events</h1>
      <form
        class="events-filter"
        onSubmit={(e) => {
          e.preventDefault()
          setApplied(pattern.trim())
        }}
      >
        <label for="events-uns">UNS pattern</label>
        <input
          id="events-uns"
          value={pattern}
          placeholder="Demofactory/Machining/# (empty: everything)"
          aria-describedby="events-uns-help"
          onInput={(e) => setPattern((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit">Apply</button>
        <span id="events-uns-help" class="muted">
          + stands for one level, # for the rest
        </span>
      </form>
      <fieldset class="events-types">
        <legend>Types</legend>
        {TYPES.map((t) => (
          <label key={t} class="check">
            <input
              type="checkbox"
              checked={types.has(t)}
              onChange={(e) => {
                const next = new Set(types)
                if ((e.currentTarget as HTMLInputElement).checked) next.add(t)
                else next.delete(t)
                setTypes(next)
              }}
            />
            {t}
          </label>
        ))}
      </fieldset>
      <div class="events-tools">
        <button
          type="button"
          aria-pressed={paused}
          onClick={() => {
            if (paused) setMissed(0)
            setPaused(!paused)
          }}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button
          type="button"
          onClick={() => {
            buffer.current = []
            setRows([])
          }}
        >
          Clear
        </button>
        <span role="status" class="muted">
          {paused
            ? `Paused: ${missed} event${missed === 1 ? '' : 's'} not shown`
            : `Showing the last ${rows.length} (of at most ${KEEP})`}
          {applied ? `, pattern ${applied}` : ''}
        </span>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <table class="events">
        <caption class="sr-only">Live events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Asset</th>
            <th scope="col">Item</th>
            <th scope="col">Type</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ n, item }) => (
            <tr key={n} class={`type-${kindOf(item).toLowerCase()}`}>
              <td>{localTime(item.timestamp)}</td>
              <td>
                <Link href={assetHref(item.assetUuid)}>{item.assetUuid}</Link>
              </td>
              <td>{item.id}</td>
              <td>{item.type}</td>
              <td>
                {show(item.value)}
                {typeof item.attributes.units === 'string' ? ` ${item.attributes.units}` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
