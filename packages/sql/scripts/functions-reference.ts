// Prints docs/reference/sql-functions.md as the function registry generates it; with --write, writes the page.
//   npx node packages/sql/scripts/functions-reference.ts --write
import { writeFileSync } from 'node:fs'
import { FUNCTIONS_REFERENCE_PATH, functionsReference } from '../src/functions/index.ts'

const text = functionsReference()
if (process.argv.includes('--write')) {
  writeFileSync(new URL(`../../../${FUNCTIONS_REFERENCE_PATH}`, import.meta.url), text)
  console.log(`wrote ${FUNCTIONS_REFERENCE_PATH}`)
} else {
  process.stdout.write(text)
}
