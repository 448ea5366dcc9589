#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point of the `ofa` command. Node 24 runs the TypeScript sources directly. A smaller young generation
// (--max-semi-space-size=8) keeps `ofa up` with 10k assets × 20 items near 210 MiB RSS instead of 320 MiB
// (bench/serve-state-memory.ts). Started by an older Node
// (the machine's own, outside npm scripts), it hands over to the project's Node 24 from the `node` package.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

if (Number(process.versions.node.split('.')[0]) < 24) {
  const node24 = fileURLToPath(new URL('../../../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(node24)) {
    console.error(`ofa needs Node.js 24 (this is ${process.version}); run "npm ci" in the OpenFactory folder first`)
    process.exit(2)
  }
  // Ctrl-C reaches both processes; this one waits for the real one to stop cleanly.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => {})
  const r = spawnSync(node24, ['--max-semi-space-size=8', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  })
  process.exit(r.status ?? 1)
}

// A reader that goes away (`ofa log tail | head`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const { main } = await import('../src/main.ts')
process.exitCode = await main(process.argv.slice(2))
