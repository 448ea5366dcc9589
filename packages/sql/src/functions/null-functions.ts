/** Functions about NULL (docs: "Scalar functions" § Nulls). */
import { equalValues } from '../cast.ts'
import type { SqlValue } from '../types.ts'
import type { ScalarSpec } from './registry.ts'
import { P } from './signature.ts'

export const NULL_FUNCTIONS: readonly ScalarSpec[] = [
  {
    name: 'COALESCE',
    category: 'nulls',
    description: 'The first argument that is not NULL.',
    nulls: 'NULL when every argument is NULL',
    signatures: [
      {
        params: [P.T, P.T],
        variadic: true,
        returns: P.T,
        strict: false,
        impl: (a) => {
          for (let i = 0; i < a.length; i++) if (a[i] !== null) return a[i] as SqlValue
          return null
        },
      },
    ],
  },
  {
    name: 'IFNULL',
    category: 'nulls',
    description: 'The first argument, or the second when the first is NULL.',
    nulls: 'NULL when both are NULL',
    signatures: [
      {
        params: [P.T, P.T],
        returns: P.T,
        strict: false,
        impl: (a) => (a[0] === null ? (a[1] as SqlValue) : (a[0] as SqlValue)),
      },
    ],
  },
  {
    name: 'NULLIF',
    category: 'nulls',
    description: 'NULL when both arguments are equal, else the first.',
    nulls: 'NULL first argument: NULL; NULL second: the first',
    signatures: [
      {
        params: [P.T, P.T],
        returns: P.T,
        strict: false,
        impl: (a) => {
          const x = a[0] as SqlValue
          const y = a[1] as SqlValue
          return x === null || (y !== null && equalValues(x, y)) ? null : x
        },
      },
    ],
  },
]
