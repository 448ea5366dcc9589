import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkHeaderColumns, decodeHeaders, HEADERS_TYPE } from '../../src/serde/decode-headers.ts'
import { type SqlStruct, SqlType } from '../../src/types.ts'
import { assertCode } from './helpers.ts'

const entry = (key: string, bytes: number[]): SqlStruct =>
  Object.assign(Object.create(null), { KEY: key, VALUE: new Uint8Array(bytes) })

describe('decodeHeaders', () => {
  const headers = { 'ofa-edge': Buffer.from('edge-1'), trace: Buffer.from([1, 2]) }

  test('HEADERS: every header, in order, as KEY and VALUE structs', () => {
    const [all] = decodeHeaders(headers, [{ name: 'H', type: HEADERS_TYPE }])
    assert.deepEqual(all, [entry('ofa-edge', [...Buffer.from('edge-1')]), entry('trace', [1, 2])])
    assert.deepEqual(decodeHeaders({}, [{ name: 'H', type: HEADERS_TYPE }]), [[]])
  })

  test("HEADER('name'): the bytes of that header, NULL when absent", () => {
    const columns = [
      { name: 'T', type: SqlType.BYTES, headerKey: 'trace' },
      { name: 'X', type: SqlType.BYTES, headerKey: 'missing' },
      { name: 'P', type: SqlType.BYTES, headerKey: 'constructor' },
    ]
    assert.deepEqual(decodeHeaders(headers, columns), [new Uint8Array([1, 2]), null, null])
  })

  test('the bytes are copies of the record buffers', () => {
    const record = { a: Buffer.from([7]) }
    const [one, all] = decodeHeaders(record, [
      { name: 'A', type: SqlType.BYTES, headerKey: 'a' },
      { name: 'H', type: HEADERS_TYPE },
    ])
    record.a[0] = 8
    assert.deepEqual(one, new Uint8Array([7]))
    assert.deepEqual(all, [entry('a', [7])])
  })
})

describe('checkHeaderColumns', () => {
  test('accepts the types ksqlDB defines', () => {
    checkHeaderColumns([{ name: 'H', type: HEADERS_TYPE }])
    checkHeaderColumns([
      { name: 'A', type: SqlType.BYTES, headerKey: 'a' },
      { name: 'B', type: SqlType.BYTES, headerKey: 'b' },
    ])
  })

  test('refuses other types, duplicates, and HEADER beside HEADERS', () => {
    assertCode(
      () => checkHeaderColumns([{ name: 'H', type: SqlType.array(SqlType.BYTES) }]),
      'OFA_SQL_TYPE',
      /HEADERS column H must be of type ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, not ARRAY<BYTES>/,
    )
    assertCode(
      () => checkHeaderColumns([{ name: 'A', type: SqlType.STRING, headerKey: 'a' }]),
      'OFA_SQL_TYPE',
      /HEADER\('a'\) column A must be of type BYTES, not STRING/,
    )
    assertCode(
      () =>
        checkHeaderColumns([
          { name: 'A', type: SqlType.BYTES, headerKey: 'a' },
          { name: 'B', type: SqlType.BYTES, headerKey: 'a' },
        ]),
      'OFA_SQL_TYPE',
      /two columns read HEADER\('a'\)/,
    )
    assertCode(
      () =>
        checkHeaderColumns([
          { name: 'H', type: HEADERS_TYPE },
          { name: 'G', type: HEADERS_TYPE },
        ]),
      'OFA_SQL_TYPE',
      /two HEADERS columns/,
    )
    assertCode(
      () =>
        checkHeaderColumns([
          { name: 'A', type: SqlType.BYTES, headerKey: 'a' },
          { name: 'H', type: HEADERS_TYPE },
        ]),
      'OFA_SQL_TYPE',
      /already holds every header/,
    )
  })
})
