import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createSerde, SERDE_FORMATS, type SerdeFormat } from '../../src/serde/serde.ts'
import { SqlType } from '../../src/types.ts'
import { assertCode, buf } from './helpers.ts'

describe('createSerde', () => {
  test('NONE: the key of a keyless stream reads no columns and writes nothing', () => {
    const serde = createSerde('NONE', [], { role: 'key' })
    assert.equal(serde.format, 'NONE')
    assert.deepEqual(serde.decode(buf('anything')), [])
    assert.deepEqual(serde.decode(null), [])
    assert.equal(serde.encode([]), null)
  })

  test('NONE with a column, or as a value format, cannot be', () => {
    assertCode(
      () => createSerde('NONE', [{ name: 'K', type: SqlType.STRING }], { role: 'key' }),
      'OFA_SQL_UNSUPPORTED',
      /NONE key format carries no columns, but key column K is declared/,
    )
    assertCode(
      () => createSerde('NONE', [], { role: 'value' }),
      'OFA_SQL_UNSUPPORTED',
      /NONE format is a key format only/,
    )
  })

  test('no columns in any other format: no values, nothing written', () => {
    for (const format of ['JSON', 'KAFKA', 'DELIMITED'] as const) {
      const serde = createSerde(format, [], { role: 'key' })
      assert.equal(serde.format, format)
      assert.deepEqual(serde.decode(buf('x')), [])
      assert.equal(serde.decode(null), null)
      assert.equal(serde.encode([]), null)
    }
  })

  test('a format we do not run', () => {
    assertCode(
      () => createSerde('AVRO' as SerdeFormat, [{ name: 'A', type: SqlType.STRING }], { role: 'value' }),
      'OFA_SQL_UNSUPPORTED',
      /unknown serialization format 'AVRO'/,
    )
  })

  test('every format names itself', () => {
    for (const format of SERDE_FORMATS) {
      if (format === 'NONE') continue
      assert.equal(createSerde(format, [{ name: 'A', type: SqlType.STRING }], { role: 'value' }).format, format)
    }
  })
})
