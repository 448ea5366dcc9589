/**
 * Values from a data item's `nativeUnits` (what the adapter sends) to its `units` (what MTConnect reports), as an
 * MTConnect agent converts them: `(value + offset) × factor`, then divided by `nativeScale` when the item has one.
 *
 * The factor of a pair comes from, in order: the pair itself in `PAIRS`; for rates (`A/B` to `C/D`) the numerator's
 * factor over the denominator's; otherwise each `_`-separated part's pair multiplied, with `KILO` (× 1000),
 * `SQUARE_`, `CUBIC_` and `^n` (the factor raised to that power; the powers must agree) — so `KILOWATT` → `WATT`,
 * `FOOT/MINUTE` → `MILLIMETER/SECOND`, `CUBIC_INCH` → `CUBIC_MILLIMETER`. `_3D` units convert each of the three
 * numbers, and must be `_3D` on both sides. Anything else is unknown: `unitConversion` answers null, and the values
 * pass as sent (Devices.xml reading warns once for the item).
 */

/** `from-to` → factor, or [factor, offset] (the offset added before the factor). */
const PAIRS: Readonly<Record<string, number | readonly [number, number]>> = {
  'INCH-MILLIMETER': 25.4,
  'FOOT-MILLIMETER': 304.8,
  'CENTIMETER-MILLIMETER': 10,
  'DECIMETER-MILLIMETER': 100,
  'METER-MILLIMETER': 1000,
  'GALLON-LITER': 3.785411784,
  'PINT-LITER': 0.473176473,
  'FAHRENHEIT-CELSIUS': [5 / 9, -32],
  'POUND-GRAM': 453.59237,
  'OUNCE-GRAM': 28.349523125,
  'GRAM-KILOGRAM': 0.001,
  'RADIAN-DEGREE': 180 / Math.PI,
  'SECOND-MINUTE': 1 / 60,
  'MINUTE-SECOND': 60,
  'HOUR-SECOND': 3600,
  'POUND/INCH^2-PASCAL': 6894.757293168,
}

export interface UnitConversion {
  readonly factor: number
  readonly offset: number
}

const IDENTITY: UnitConversion = { factor: 1, offset: 0 }

/** `KILOWATT` → scale 1000, unit `WATT`; `CUBIC_INCH` → power 3, unit `INCH`; `METER^2` → power 2. */
function prefixes(unit: string): { scale: number; power: number; unit: string } | null {
  if (unit.startsWith('KILO')) return { scale: 1000, power: 1, unit: unit.slice(4) }
  if (unit.startsWith('CUBIC_')) return { scale: 1, power: 3, unit: unit.slice(6) }
  if (unit.startsWith('SQUARE_')) return { scale: 1, power: 2, unit: unit.slice(7) }
  const caret = unit.indexOf('^')
  if (caret >= 0) {
    const power = Number(unit.slice(caret + 1))
    return Number.isFinite(power) && power !== 0 ? { scale: 1, power, unit: unit.slice(0, caret) } : null
  }
  return { scale: 1, power: 1, unit }
}

function simple(from: string, to: string): UnitConversion | null {
  const s = prefixes(from)
  const t = prefixes(to)
  if (!s || !t || s.power !== t.power) return null
  let factor = s.scale / t.scale
  let offset = 0
  const sParts = s.unit.split('_')
  const tParts = t.unit.split('_')
  if (sParts.length !== tParts.length) return null
  for (let i = 0; i < sParts.length; i++) {
    if (sParts[i] === tParts[i]) continue
    const pair = PAIRS[`${sParts[i]}-${tParts[i]}`]
    if (pair === undefined) return null
    if (typeof pair === 'number') factor *= pair
    else {
      factor *= pair[0]
      offset = pair[1]
    }
  }
  return { factor: t.power === 1 ? factor : factor ** t.power, offset }
}

/**
 * The conversion from `from` to `to`: the identity when they are equal, null when it is not known (see the module
 * comment).
 */
export function unitConversion(from: string, to: string): UnitConversion | null {
  if (from === to) return IDENTITY
  const direct = PAIRS[`${from}-${to}`]
  if (direct !== undefined)
    return typeof direct === 'number' ? { factor: direct, offset: 0 } : { factor: direct[0], offset: direct[1] }
  const s3 = from.endsWith('_3D')
  const t3 = to.endsWith('_3D')
  if (s3 !== t3) return null
  const f = s3 ? from.slice(0, -3) : from
  const t = t3 ? to.slice(0, -3) : to
  const fs = f.indexOf('/')
  const ts = t.indexOf('/')
  if (fs < 0 && ts < 0) return simple(f, t)
  if (fs < 0 || ts < 0) return null
  const num = unitConversion(f.slice(0, fs), t.slice(0, ts))
  const den = unitConversion(f.slice(fs + 1), t.slice(ts + 1))
  if (!num || !den || num.offset !== 0 || den.offset !== 0) return null
  return { factor: num.factor / den.factor, offset: 0 }
}

/**
 * The function a data item's numbers go through (`(v + offset) × factor / nativeScale`), or undefined when they
 * pass as sent: no nativeUnits and no nativeScale, an identity, or an unknown pair (`unknown` is then true).
 */
export function valueConverter(item: {
  readonly units?: string
  readonly nativeUnits?: string
  readonly nativeScale?: number
}): { readonly convert?: (v: number) => number; readonly unknown: boolean } {
  let c: UnitConversion = IDENTITY
  let unknown = false
  if (item.nativeUnits !== undefined && item.units !== undefined) {
    const found = unitConversion(item.nativeUnits, item.units)
    if (found) c = found
    else unknown = true
  }
  const scale = item.nativeScale ?? 1
  if (c.factor === 1 && c.offset === 0 && scale === 1) return { unknown }
  const factor = c.factor / scale
  const offset = c.offset
  return { convert: (v) => (v + offset) * factor, unknown }
}
