import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERROR_CODES, OpenFactoryError } from '../src/errors.ts'

const page = readFileSync(new URL('../../../docs/reference/errors.md', import.meta.url), 'utf8')

test('docs/reference/errors.md documents exactly the codes in ERROR_CODES', () => {
  const documented = [...page.matchAll(/^\| `(OFA_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1])
  assert.deepEqual([...documented].sort(), [...ERROR_CODES].sort())
  assert.equal(new Set(documented).size, documented.length, 'a code is documented twice')
})

test('an error prints file:line:column: CODE message', () => {
  const err = new OpenFactoryError('OFA_CONFIG_TYPE', 'devices.a.uuid: expected a string', {
    where: { file: 'devices.yml', line: 3, column: 11 },
  })
  assert.equal(err.format(), 'devices.yml:3:11: OFA_CONFIG_TYPE devices.a.uuid: expected a string')
  assert.deepEqual(err.toJSON(), {
    code: 'OFA_CONFIG_TYPE',
    message: 'devices.a.uuid: expected a string',
    where: { file: 'devices.yml', line: 3, column: 11 },
  })
  assert.equal(new OpenFactoryError('OFA_LOG_CLOSED', 'closed').format(), 'OFA_LOG_CLOSED closed')
})

test('segment damage prints the byte offset', () => {
  const err = new OpenFactoryError('OFA_LOG_CORRUPT', 'checksum mismatch', {
    where: { file: 'a/0/0.log', offset: 4096 },
  })
  assert.equal(err.format(), 'a/0/0.log@4096: OFA_LOG_CORRUPT checksum mismatch')
})
