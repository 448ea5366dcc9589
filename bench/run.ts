// Runs the benchmarks one after another (`npm run bench [-- NAME...]`), each in its own process so that one
// does not warm or load the next. Each prints its own figures beside the anchor it measured in the same run.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const wanted = process.argv.slice(2)
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()
let failed = 0
for (const file of benches) {
  console.log(`\n=== ${file}`)
  const r = spawnSync(process.execPath, [`${dir}${file}`], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    console.error(`${file} failed (exit ${r.status ?? r.signal})`)
  }
}
process.exitCode = failed > 0 ? 1 : 0
