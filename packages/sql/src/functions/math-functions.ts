/**
 * Numeric functions (docs: "Scalar functions" § Numeric functions). Every numeric type is a JavaScript number;
 * INTEGER and BIGINT results stay integral. Functions of a DOUBLE follow Java's `Math` (NaN and infinities pass
 * through: `LN(0)` is -Infinity, `SQRT(-1)` is NaN).
 */
import { compareValues } from '../cast.ts'
import { type SqlType, type SqlValue, SqlType as Types } from '../types.ts'
import { roundHalfCeiling, truncateTo } from './numbers.ts'
import type { ScalarArg, ScalarSignature, ScalarSpec } from './registry.ts'
import { P, type ReturnRule } from './signature.ts'

const num = (a: readonly ScalarArg[], i: number): number => a[i] as number

/** DECIMAL(p, s) rounded to a whole number: one more integral digit may be needed (9.9 → 10). */
const WHOLE_DECIMAL: ReturnRule = {
  label: 'DECIMAL(p - s + 1, 0)',
  compute: (t) => {
    const d = t.bindings.get('D') as (SqlType & { precision: number; scale: number }) | undefined
    if (d === undefined) return undefined
    return Types.decimal(d.scale > 0 ? Math.min(38, d.precision - d.scale + 1) : d.precision, 0)
  },
}

function double(name: string, description: string, f: (x: number) => number): ScalarSpec {
  return {
    name,
    category: 'math',
    description,
    signatures: [{ params: [P.DOUBLE], returns: P.DOUBLE, impl: (a) => f(num(a, 0)) }],
  }
}

/** CEIL, FLOOR, ROUND, TRUNC to a whole number, for each numeric type: `wholeDouble` says what a DOUBLE gives. */
function wholeSignatures(f: (x: number) => number, doubleTo: SqlType): ScalarSignature[] {
  const impl = (a: readonly ScalarArg[]): SqlValue => f(num(a, 0)) || 0
  return [
    { params: [P.INTEGER], returns: P.INTEGER, impl },
    { params: [P.BIGINT], returns: P.BIGINT, impl },
    { params: [P.DOUBLE], returns: doubleTo, impl },
    { params: [P.D], returns: WHOLE_DECIMAL, impl },
  ]
}

const SCALE = [undefined, 'scale']

/** ROUND and TRUNC to `scale` decimals: the argument's type is kept. */
function scaledSignatures(f: (x: number, scale: number) => number): ScalarSignature[] {
  const impl = (a: readonly ScalarArg[]): SqlValue => f(num(a, 0), num(a, 1))
  return [
    { params: [P.INTEGER, P.INTEGER], names: SCALE, returns: P.INTEGER, impl },
    { params: [P.BIGINT, P.INTEGER], names: SCALE, returns: P.BIGINT, impl },
    { params: [P.DOUBLE, P.INTEGER], names: SCALE, returns: P.DOUBLE, impl },
    {
      params: [P.D, P.INTEGER],
      names: SCALE,
      returns: P.D,
      bind: (t) => {
        const scale = (t.returnType as { scale: number }).scale
        return (a) => f(num(a, 0), Math.min(num(a, 1), scale))
      },
    },
  ]
}

function extreme(name: string, description: string, sign: 1 | -1): ScalarSpec {
  return {
    name,
    category: 'math',
    description,
    nulls: 'NULL values are skipped; NULL when all are NULL',
    signatures: [
      {
        params: [P.C, P.C],
        variadic: true,
        returns: P.C,
        strict: false,
        bind: (t) => {
          const type = t.returnType
          return (a) => {
            let best: SqlValue = null
            for (let i = 0; i < a.length; i++) {
              const v = a[i] as SqlValue
              if (v !== null && (best === null || sign * compareValues(v, best, type) > 0)) best = v
            }
            return best
          }
        },
      },
    ],
  }
}

export const MATH_FUNCTIONS: readonly ScalarSpec[] = [
  {
    name: 'ABS',
    category: 'math',
    description: 'The absolute value.',
    signatures: [{ params: [P.N], returns: P.N, impl: (a) => Math.abs(num(a, 0)) }],
  },
  {
    name: 'SIGN',
    category: 'math',
    description: 'The sign as an INTEGER: -1, 0 or 1.',
    signatures: [{ params: [P.N], returns: P.INTEGER, impl: (a) => Math.sign(num(a, 0)) || 0 }],
  },
  {
    name: 'CEIL',
    category: 'math',
    description: 'The smallest whole number not below the value.',
    signatures: wholeSignatures(Math.ceil, Types.DOUBLE),
  },
  {
    name: 'FLOOR',
    category: 'math',
    description: 'The largest whole number not above the value.',
    signatures: wholeSignatures(Math.floor, Types.DOUBLE),
  },
  {
    name: 'ROUND',
    category: 'math',
    description:
      'Rounds to a whole number, or to `scale` decimals (negative: tens, hundreds...); a half rounds toward positive infinity (2.5 → 3, -2.5 → -2).',
    signatures: [
      ...wholeSignatures((x) => roundHalfCeiling(x, 0), Types.BIGINT),
      ...scaledSignatures(roundHalfCeiling),
    ],
  },
  {
    name: 'TRUNC',
    category: 'math',
    description: 'Truncates toward zero to a whole number, or to `scale` decimals.',
    signatures: [...wholeSignatures(Math.trunc, Types.BIGINT), ...scaledSignatures(truncateTo)],
  },
  double('SQRT', 'The square root.', Math.sqrt),
  double('CBRT', 'The cube root.', Math.cbrt),
  double('EXP', 'e raised to the value.', Math.exp),
  double('LN', 'The natural logarithm.', Math.log),
  {
    name: 'LOG',
    category: 'math',
    description: 'The logarithm in base 10, or in the given base: `LOG(base, value)`.',
    signatures: [
      { params: [P.DOUBLE], returns: P.DOUBLE, impl: (a) => Math.log10(num(a, 0)) },
      {
        params: [P.DOUBLE, P.DOUBLE],
        names: ['base', 'value'],
        returns: P.DOUBLE,
        impl: (a) => Math.log(num(a, 1)) / Math.log(num(a, 0)),
      },
    ],
  },
  {
    name: 'POWER',
    category: 'math',
    description: 'The base raised to the exponent.',
    signatures: [
      {
        params: [P.DOUBLE, P.DOUBLE],
        names: ['base', 'exponent'],
        returns: P.DOUBLE,
        impl: (a) => num(a, 0) ** num(a, 1),
      },
    ],
  },
  double('SIN', 'The sine of an angle in radians.', Math.sin),
  double('COS', 'The cosine of an angle in radians.', Math.cos),
  double('TAN', 'The tangent of an angle in radians.', Math.tan),
  double('COT', 'The cotangent of an angle in radians.', (x) => 1 / Math.tan(x)),
  double('ASIN', 'The arc sine, in radians (NaN outside [-1, 1]).', Math.asin),
  double('ACOS', 'The arc cosine, in radians (NaN outside [-1, 1]).', Math.acos),
  double('ATAN', 'The arc tangent, in radians.', Math.atan),
  {
    name: 'ATAN2',
    category: 'math',
    description: 'The angle in radians of the point (x, y): `ATAN2(y, x)`.',
    signatures: [
      {
        params: [P.DOUBLE, P.DOUBLE],
        names: ['y', 'x'],
        returns: P.DOUBLE,
        impl: (a) => Math.atan2(num(a, 0), num(a, 1)),
      },
    ],
  },
  double('SINH', 'The hyperbolic sine.', Math.sinh),
  double('COSH', 'The hyperbolic cosine.', Math.cosh),
  double('TANH', 'The hyperbolic tangent.', Math.tanh),
  double('DEGREES', 'Radians to degrees.', (x) => (x * 180) / Math.PI),
  double('RADIANS', 'Degrees to radians.', (x) => (x * Math.PI) / 180),
  {
    name: 'PI',
    category: 'math',
    description: 'π.',
    signatures: [{ params: [], returns: P.DOUBLE, impl: () => Math.PI }],
  },
  {
    name: 'RANDOM',
    category: 'math',
    description: 'A random DOUBLE from 0 (included) to 1 (excluded).',
    deterministic: false,
    signatures: [{ params: [], returns: P.DOUBLE, impl: () => Math.random() }],
  },
  extreme('GREATEST', 'The largest of its arguments (numbers of different types are widened).', 1),
  extreme('LEAST', 'The smallest of its arguments (numbers of different types are widened).', -1),
]
