#!/usr/bin/env node
// Entry point of the `ofa` command. Node 24 runs the TypeScript sources directly.
import { main } from '../src/main.ts'

// A reader that goes away (`ofa log tail | head`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

process.exitCode = await main(process.argv.slice(2))
