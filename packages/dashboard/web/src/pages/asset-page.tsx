/**
 * One asset: identity, UNS path, references (links), every data item with its live value, units, quality and age,
 * the active conditions, the asset's documents, a form per method with the command history, and time travel: an
 * as-of scrubber that shows the asset's state at a past instant (`GET /api/assets/{uuid}?at=`), clearly marked,
 * until "Back to live". The live state comes from the app's one WebSocket (a subscription to this asset).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ApiError, api, query, request } from '../api.ts'
import { me } from '../auth.ts'
import { now } from '../clock.ts'
import { type CommandRow, foldCommand, newestCommands } from '../commands.ts'
import { Link } from '../components/link.tsx'
import { duration, fromLocalInput, localTime, value as show, toLocalInput } from '../format.ts'
import { live } from '../live.ts'
import { assetHref, navigate, route } from '../router.ts'
import type { Asset, Command, DocumentSummary, ItemState, MethodContract } from '../types.ts'

const SHOWN_TYPES = new Set(['Samples', 'Events', 'Condition'])

function message(err: unknown): string {
  return err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err)
}

function quality(item: ItemState): string {
  if (item.value === 'UNAVAILABLE') return 'UNAVAILABLE'
  const q = item.attributes.quality
  return typeof q === 'string' ? q : 'GOOD'
}

/** The rows of the data item table: declared items in their order, then what the state has besides. */
function itemRows(
  asset: Asset,
  state: ReadonlyMap<string, ItemState>,
): { id: string; item?: ItemState; units?: string; tag: string; category: string; subType?: string }[] {
  const rows: { id: string; item?: ItemState; units?: string; tag: string; category: string; subType?: string }[] = []
  const seen = new Set<string>()
  for (const d of asset.dataItems) {
    seen.add(d.id)
    rows.push({ id: d.id, item: state.get(d.id), units: d.units, tag: d.tag, category: d.category, subType: d.subType })
  }
  for (const item of state.values()) {
    if (seen.has(item.id) || !SHOWN_TYPES.has(item.type) || item.id === 'avail') continue
    const units = typeof item.attributes.units === 'string' ? item.attributes.units : undefined
    rows.push({ id: item.id, item, units, tag: item.tag, category: item.type })
  }
  return rows
}

function ItemTable(props: { asset: Asset; state: ReadonlyMap<string, ItemState>; past: boolean; at?: number }) {
  const t = now.value
  const rows = itemRows(props.asset, props.state)
  return (
    <table class="items" aria-describedby="items-caption">
      <caption id="items-caption">
        {props.past && props.at !== undefined ? `Data items as of ${localTime(props.at)}` : 'Data items, live'}
      </caption>
      <thead>
        <tr>
          <th scope="col">Item</th>
          <th scope="col">Type</th>
          <th scope="col">Value</th>
          <th scope="col">Quality</th>
          <th scope="col">{props.past ? 'Age at that time' : 'Age'}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const item = r.item
          const unavailable = !item || item.value === 'UNAVAILABLE'
          const ref = props.past && props.at !== undefined ? props.at : t
          return (
            <tr key={r.id} data-item={r.id}>
              <th scope="row">
                <span class="item-id">{r.id}</span>{' '}
                <span class="muted">
                  {r.tag}
                  {r.subType ? ` · ${r.subType}` : ''}
                </span>
              </th>
              <td>{r.category}</td>
              <td class="value">
                {unavailable ? (
                  <span
                    class="unavailable"
                    title={typeof item?.attributes.reason === 'string' ? item.attributes.reason : undefined}
                  >
                    UNAVAILABLE
                  </span>
                ) : (
                  <>
                    <span class="v">{show(item.value)}</span>
                    {r.units && <span class="units"> {r.units}</span>}
                  </>
                )}
              </td>
              <td class={`quality q-${item ? quality(item).toLowerCase() : 'unavailable'}`}>
                {item ? quality(item) : 'no data'}
              </td>
              <td class="age">{item ? duration(ref - Date.parse(item.timestamp)) : '—'}</td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}

function Conditions(props: { state: ReadonlyMap<string, ItemState>; past: boolean; at?: number }) {
  const t = props.past && props.at !== undefined ? props.at : now.value
  const conditions = [...props.state.values()].filter((i) => i.type === 'Condition')
  const active = conditions.flatMap((c) => (c.conditions ?? []).map((a) => ({ item: c, a })))
  return (
    <section aria-labelledby="conditions-heading">
      <h2 id="conditions-heading">Conditions</h2>
      <div aria-live="polite">
        {active.length === 0 ? (
          <p class="ok">
            {conditions.length === 0
              ? 'This asset reports no conditions.'
              : conditions.length === 1
                ? 'Its one condition is NORMAL.'
                : `All ${conditions.length} conditions are NORMAL.`}
          </p>
        ) : (
          <table class="conditions">
            <thead>
              <tr>
                <th scope="col">Level</th>
                <th scope="col">Condition</th>
                <th scope="col">Native code</th>
                <th scope="col">Message</th>
                <th scope="col">Active for</th>
              </tr>
            </thead>
            <tbody>
              {active.map(({ item, a }) => (
                <tr key={`${item.id}|${a.nativeCode}`} class={`level-${a.level.toLowerCase()}`}>
                  <td>
                    <span class={`badge ${a.level.toLowerCase()}`}>{a.level}</span>
                  </td>
                  <td>
                    {item.id} <span class="muted">{item.tag}</span>
                  </td>
                  <td>{a.nativeCode}</td>
                  <td>{a.message ?? ''}</td>
                  <td>{duration(t - Date.parse(a.timestamp))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  )
}

function Documents(props: { uuid: string }) {
  const [docs, setDocs] = useState<DocumentSummary[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [open, setOpen] = useState<{ id: string; text: string } | null>(null)
  useEffect(() => {
    api<{ items: DocumentSummary[] }>(`/api/documents${query({ asset: props.uuid })}`).then(
      (r) => setDocs(r.items),
      (err) => setError(message(err)),
    )
  }, [props.uuid])
  const view = async (id: string) => {
    if (open?.id === id) return setOpen(null)
    try {
      const res = await request(`/api/documents/${encodeURIComponent(id)}`, { accept: '*/*' })
      setOpen({ id, text: await res.text() })
    } catch (err) {
      setOpen({ id, text: message(err) })
    }
  }
  return (
    <section aria-labelledby="docs-heading">
      <h2 id="docs-heading">Documents</h2>
      {error && <p class="error">{error}</p>}
      {docs && docs.length === 0 && <p class="muted">No documents (cutting tools, parts...) from this asset.</p>}
      {docs && docs.length > 0 && (
        <table class="documents">
          <thead>
            <tr>
              <th scope="col">Document</th>
              <th scope="col">Type</th>
              <th scope="col">Received</th>
              <th scope="col">Size</th>
              <th scope="col">
                <span class="sr-only">Show</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {docs.map((d) => (
              <tr key={d.assetId}>
                <td>{d.assetId}</td>
                <td>{d.type}</td>
                <td>{localTime(d.timestamp)}</td>
                <td>{d.bytes} bytes</td>
                <td>
                  <button type="button" aria-expanded={open?.id === d.assetId} onClick={() => view(d.assetId)}>
                    {open?.id === d.assetId ? 'Hide' : 'Show'} <span class="sr-only">{d.assetId}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && (
        <figure class="document">
          <figcaption>Document {open.id}</figcaption>
          <pre>{open.text}</pre>
        </figure>
      )}
    </section>
  )
}

/** A method's form, generated from its contract: one field per argument, typed and marked required as declared. */
function MethodForm(props: { uuid: string; method: MethodContract; disabled: boolean }) {
  const m = props.method
  const [values, setValues] = useState<Record<string, string | boolean>>({})
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null)
  const [busy, setBusy] = useState(false)
  const formId = `method-${m.name}`
  const submit = async (ev: Event) => {
    ev.preventDefault()
    const args: Record<string, unknown> = {}
    for (const a of m.arguments) {
      const raw = values[a.name]
      if (a.type === 'boolean') {
        if (raw !== undefined) args[a.name] = raw === true
        continue
      }
      if (raw === undefined || raw === '') continue
      if (a.type === 'number') args[a.name] = Number(raw)
      else if (a.type === 'object') {
        try {
          args[a.name] = JSON.parse(String(raw))
        } catch {
          setAnswer({ ok: false, text: `${a.name}: not JSON` })
          return
        }
      } else args[a.name] = raw
    }
    setBusy(true)
    setAnswer(null)
    try {
      const cmd = await api<Command>(
        `/api/assets/${encodeURIComponent(props.uuid)}/methods/${encodeURIComponent(m.name)}?timeout_ms=5000`,
        { method: 'POST', body: args },
      )
      const detail =
        cmd.error !== undefined
          ? `: ${cmd.error.code} ${cmd.error.message}`
          : cmd.result !== undefined
            ? `: ${JSON.stringify(cmd.result)}`
            : ''
      setAnswer({
        ok: cmd.status === 'completed' || cmd.status === 'accepted' || cmd.status === 'pending',
        text: `${cmd.status}${detail}`,
      })
    } catch (err) {
      setAnswer({ ok: false, text: message(err) })
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="method" id={formId} onSubmit={submit} aria-labelledby={`${formId}-name`}>
      <h3 id={`${formId}-name`}>{m.name}</h3>
      {m.description && <p class="muted">{m.description}</p>}
      {m.arguments.map((a) => {
        const id = `${formId}-${a.name}`
        const label = (
          <label for={id}>
            {a.name}
            {a.required ? <span aria-hidden="true"> *</span> : null}
            {a.type ? <span class="muted"> ({a.type})</span> : null}
          </label>
        )
        if (a.type === 'boolean') {
          return (
            <div class="field checkbox" key={a.name}>
              <input
                id={id}
                type="checkbox"
                checked={values[a.name] === true}
                onChange={(e) => setValues({ ...values, [a.name]: (e.currentTarget as HTMLInputElement).checked })}
              />
              {label}
            </div>
          )
        }
        const common = {
          id,
          name: a.name,
          required: a.required === true,
          value: String(values[a.name] ?? ''),
          'aria-describedby': a.description ? `${id}-desc` : undefined,
          onInput: (e: Event) => setValues({ ...values, [a.name]: (e.currentTarget as HTMLInputElement).value }),
        }
        return (
          <div class="field" key={a.name}>
            {label}
            {a.type === 'object' ? (
              <textarea {...common} rows={3} placeholder="{ }" />
            ) : a.type === 'number' ? (
              <input {...common} type="number" step="any" />
            ) : (
              <input {...common} type="text" />
            )}
            {a.description && (
              <span id={`${id}-desc`} class="muted">
                {a.description}
              </span>
            )}
          </div>
        )
      })}
      <button type="submit" disabled={busy || props.disabled}>
        Send {m.name}
      </button>
      <output class={answer ? (answer.ok ? 'answer ok' : 'answer error') : 'answer'} aria-live="polite" for={formId}>
        {busy ? 'waiting for the answer…' : answer ? `Answer: ${answer.text}` : ''}
      </output>
    </form>
  )
}

function CommandHistory(props: { rows: readonly CommandRow[]; error: string | null }) {
  return (
    <section aria-labelledby="commands-heading">
      <h2 id="commands-heading">Command history</h2>
      {props.error && <p class="error">{props.error}</p>}
      {props.rows.length === 0 ? (
        <p class="muted">No command in the last 24 hours.</p>
      ) : (
        <table class="commands">
          <thead>
            <tr>
              <th scope="col">Sent</th>
              <th scope="col">Method</th>
              <th scope="col">Arguments</th>
              <th scope="col">By</th>
              <th scope="col">Status</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((c) => (
              <tr key={c.correlationId} title={`correlation id ${c.correlationId}`}>
                <td>{c.sentAt ? localTime(c.sentAt) : '—'}</td>
                <td>{c.method}</td>
                <td>
                  <code>{c.arguments === undefined ? '' : JSON.stringify(c.arguments)}</code>
                </td>
                <td>{c.signature ?? c.sender ?? ''}</td>
                <td>
                  <span class={`badge ${c.status}`}>{c.status}</span>
                </td>
                <td>
                  {c.error ? (
                    `${c.error.code ?? ''} ${c.error.message ?? ''}`
                  ) : c.result === undefined ? (
                    ''
                  ) : (
                    <code>{JSON.stringify(c.result)}</code>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

const SPANS = [
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 h', ms: 3600_000 },
  { label: '24 h', ms: 24 * 3600_000 },
] as const

/** The as-of scrubber: a slider over the last span, and an exact time; null: live. */
function TimeTravel(props: { at: number | null; onChange: (at: number | null) => void }) {
  const [span, setSpan] = useState<number>(SPANS[1].ms)
  // The slider's right end is fixed while the user scrubs (a moving end would move the thumb's time).
  const [end, setEnd] = useState(() => Date.now())
  const at = props.at
  const sliderValue = at === null ? 0 : Math.round((end - at) / 1000)
  return (
    <section class={`time-travel ${at === null ? 'live' : 'past'}`} aria-labelledby="tt-heading">
      <h2 id="tt-heading">Time travel</h2>
      <div class="tt-controls">
        <label>
          <span>Look back over</span>
          <select
            value={span}
            onChange={(e) => {
              setSpan(Number((e.currentTarget as HTMLSelectElement).value))
              setEnd(Date.now())
            }}
          >
            {SPANS.map((s) => (
              <option key={s.ms} value={s.ms}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label class="slider">
          <span>Seconds before now</span>
          <input
            type="range"
            min={0}
            max={Math.round(span / 1000)}
            step={1}
            value={sliderValue}
            aria-valuetext={at === null ? 'live' : `${duration(end - at)} ago, ${localTime(at)}`}
            onPointerDown={() => at === null && setEnd(Date.now())}
            onInput={(e) => {
              const back = Number((e.currentTarget as HTMLInputElement).value)
              props.onChange(back === 0 ? null : end - back * 1000)
            }}
          />
        </label>
        <label>
          <span>As of</span>
          <input
            type="datetime-local"
            step={1}
            name="as-of"
            value={at === null ? '' : toLocalInput(at)}
            onChange={(e) => {
              const ms = fromLocalInput((e.currentTarget as HTMLInputElement).value)
              if (!Number.isNaN(ms)) {
                setEnd(Math.max(Date.now(), ms))
                props.onChange(ms)
              }
            }}
          />
        </label>
        <button type="button" onClick={() => props.onChange(null)} disabled={at === null}>
          Back to live
        </button>
      </div>
    </section>
  )
}

export function AssetPage(props: { uuid: string }) {
  const uuid = props.uuid
  const [asset, setAsset] = useState<Asset | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [state, setState] = useState<ReadonlyMap<string, ItemState>>(new Map())
  const [commands, setCommands] = useState<readonly CommandRow[]>([])
  const [commandsError, setCommandsError] = useState<string | null>(null)
  const commandRows = useRef(new Map<string, CommandRow>())
  const atParam = route.value.params.get('at')
  const at = atParam ? Date.parse(atParam) : null
  const [past, setPast] = useState<{ at: number; asset: Asset } | null>(null)
  const [pastError, setPastError] = useState<string | null>(null)

  useEffect(() => {
    setError(null)
    api<Asset>(`/api/assets/${encodeURIComponent(uuid)}`).then(setAsset, (err) => setError(message(err)))
    const foldAll = (items: readonly ItemState[]) => {
      let changed = false
      for (const i of items) if (foldCommand(commandRows.current, i)) changed = true
      if (changed) setCommands(newestCommands(commandRows.current))
    }
    return live.subscribe(
      { assets: [uuid] },
      {
        snapshot(items) {
          setState(new Map(items.map((i) => [i.id, i])))
          foldAll(items)
        },
        update(item) {
          setState((s) => new Map(s).set(item.id, item))
          foldAll([item])
        },
        error: (msg) => setError(msg),
      },
    )
  }, [uuid])

  // The command history of the last 24 hours, from the log (a few pages at most), then live (above).
  const methodIds = asset?.methods.map((m) => m.name).join(',') ?? ''
  useEffect(() => {
    if (!asset || asset.methods.length === 0) return
    const ids = asset.methods.flatMap((m) => [`${m.name}_CMD`, `${m.name}_RESULT`]).join(',')
    const from = new Date(Date.now() - 24 * 3600_000).toISOString()
    let cancelled = false
    void (async () => {
      try {
        let cursor: string | null = null
        for (let page = 0; page < 5 && !cancelled; page++) {
          const r: { items: ItemState[]; nextCursor: string | null } = await api(
            `/api/assets/${encodeURIComponent(uuid)}/history${query({ id: ids, from, limit: 1000, cursor })}`,
          )
          for (const i of r.items) foldCommand(commandRows.current, i)
          cursor = r.nextCursor
          if (!cursor) break
        }
        if (!cancelled) setCommands(newestCommands(commandRows.current))
      } catch (err) {
        if (!cancelled) setCommandsError(message(err))
      }
    })()
    return () => {
      cancelled = true
    }
  }, [uuid, methodIds])

  // The past: the asset's state at `at` (debounced while the user scrubs).
  useEffect(() => {
    if (at === null || Number.isNaN(at)) {
      setPast(null)
      setPastError(null)
      return
    }
    const timer = setTimeout(() => {
      api<Asset>(`/api/assets/${encodeURIComponent(uuid)}${query({ at: new Date(at).toISOString() })}`).then(
        (a) => {
          setPast({ at, asset: a })
          setPastError(null)
        },
        (err) => setPastError(message(err)),
      )
    }, 250)
    return () => clearTimeout(timer)
  }, [uuid, at])

  const setAt = (t: number | null) => {
    const params = new URLSearchParams(route.value.params)
    if (t === null) params.delete('at')
    else params.set('at', new Date(t).toISOString())
    const q = params.toString()
    navigate(`${assetHref(uuid)}${q ? `?${q}` : ''}`, { replace: true })
  }

  const pastState = useMemo(() => (past ? new Map(past.asset.state.map((i) => [i.id, i])) : null), [past])

  if (error && !asset) {
    return (
      <section>
        <h1>{uuid}</h1>
        <p role="alert" class="error">
          {error}
        </p>
      </section>
    )
  }
  if (!asset) return <p class="loading">Loading {uuid}…</p>

  const inPast = at !== null && !Number.isNaN(at)
  const shown = inPast ? (pastState ?? new Map<string, ItemState>()) : state
  const avail = inPast ? pastState?.get('avail')?.value : (state.get('avail')?.value ?? asset.availability)
  const mayCall = me.value?.role !== 'viewer'
  const samples = asset.dataItems.filter((d) => d.category === 'Samples').map((d) => d.id)
  return (
    <article class={`asset ${inPast ? 'in-past' : ''}`}>
      <header class="asset-head">
        <h1>{asset.uuid}</h1>
        <span class={`badge ${avail === 'AVAILABLE' ? 'available' : 'unavailable'}`} aria-live="polite">
          {avail ?? 'UNAVAILABLE'}
        </span>
        <dl class="identity">
          <dt>Type</dt>
          <dd>{asset.type}</dd>
          <dt>UNS path</dt>
          <dd>{asset.uns ? <code>{asset.uns.unsId}</code> : <span class="muted">not placed</span>}</dd>
          <dt>Declared</dt>
          <dd>{asset.declared ? 'yes (registry)' : 'no (seen on the log only)'}</dd>
          <dt>Above</dt>
          <dd>
            {asset.referencesAbove.length === 0
              ? '—'
              : asset.referencesAbove.map((r) => (
                  <Link key={r} href={assetHref(r)} class="ref">
                    {r}
                  </Link>
                ))}
          </dd>
          <dt>Below</dt>
          <dd>
            {asset.referencesBelow.length === 0
              ? '—'
              : asset.referencesBelow.map((r) => (
                  <Link key={r} href={assetHref(r)} class="ref">
                    {r}
                  </Link>
                ))}
          </dd>
        </dl>
        {samples.length > 0 && (
          <p>
            <Link href={`/trends${query({ asset: asset.uuid, items: samples.slice(0, 3).join(',') })}`}>
              Trends of this asset
            </Link>
          </p>
        )}
      </header>

      <TimeTravel at={inPast ? at : null} onChange={setAt} />
      {inPast && (
        <div class="past-banner" role="status">
          <strong>The past:</strong> the state as the log held it at {localTime(at)} ({duration(now.value - at)} ago
          {past && past.at !== at ? ', loading…' : ''}). Live updates are not shown.{' '}
          <button type="button" onClick={() => setAt(null)}>
            Back to live
          </button>
        </div>
      )}
      {inPast && pastError && (
        <p role="alert" class="error">
          Could not read the past state: {pastError}
        </p>
      )}

      <section aria-labelledby="items-heading">
        <h2 id="items-heading">Data items</h2>
        <ItemTable asset={asset} state={shown} past={inPast} at={inPast ? at : undefined} />
      </section>
      <Conditions state={shown} past={inPast} at={inPast ? at : undefined} />

      {asset.methods.length > 0 && (
        <section aria-labelledby="methods-heading">
          <h2 id="methods-heading">Methods</h2>
          {!mayCall && <p class="muted">Calling a method needs the operator role; you are a {me.value?.role}.</p>}
          <div class="methods">
            {asset.methods.map((m) => (
              <MethodForm key={m.name} uuid={asset.uuid} method={m} disabled={!mayCall} />
            ))}
          </div>
        </section>
      )}
      {asset.methods.length > 0 && <CommandHistory rows={commands} error={commandsError} />}
      <Documents uuid={asset.uuid} />
    </article>
  )
}
