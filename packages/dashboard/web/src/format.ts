/** Formatting shared by the pages (pure functions: no DOM). */

/** `3 s`, `4 min 12 s`, `2 h 5 min`, `3 d 4 h` for a duration in milliseconds (negative: 0). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

/** A value as shown: numbers with at most 3 decimals, strings as they are. */
export function value(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000)
  if (typeof v === 'string') return v
  if (v === null || v === undefined) return ''
  return JSON.stringify(v)
}

/** ISO time as local `YYYY-MM-DD HH:MM:SS`. */
export function localTime(iso: string | number): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return String(iso)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** The value of an `<input type="datetime-local" step="1">` for an instant (local time). */
export function toLocalInput(ms: number): string {
  return localTime(ms).replace(' ', 'T')
}

/** An `<input type="datetime-local">` value (local time) as epoch milliseconds, or NaN. */
export function fromLocalInput(text: string): number {
  return text ? new Date(text).getTime() : Number.NaN
}
