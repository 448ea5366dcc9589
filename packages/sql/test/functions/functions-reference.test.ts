import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { defaultFunctions, FUNCTIONS_REFERENCE_PATH, functionsReference } from '../../src/functions/index.ts'

const DOC = new URL(`../../../../${FUNCTIONS_REFERENCE_PATH}`, import.meta.url)

describe('docs/reference/sql-functions.md', () => {
  test('is the text the registry generates', () => {
    const page = readFileSync(DOC, 'utf8')
    assert.ok(
      page === functionsReference(),
      `${FUNCTIONS_REFERENCE_PATH} differs from the registry's reference; regenerate it with ` +
        '`npx node packages/sql/scripts/functions-reference.ts --write` and review the diff',
    )
  })

  test('has a row for every function, and says which aggregates undo and merge', () => {
    const page = functionsReference()
    for (const spec of [...defaultFunctions.scalarSpecs(), ...defaultFunctions.aggregateSpecs()]) {
      assert.match(page, new RegExp(`^\\| \`${spec.name}\` +\\|`, 'm'), spec.name)
    }
    assert.match(page, /^\| `SUM` +\|.*\| yes +\| yes +\|$/m)
    assert.match(page, /^\| `MAX` +\|.*\| no +\| yes +\|$/m)
    assert.match(page, /^\| `DEADBAND` +\|.*\| no +\| no +\|$/m)
  })
})
