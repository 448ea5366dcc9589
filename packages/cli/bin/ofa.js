#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point of the `ofa` command. Node 24 runs the TypeScript sources directly. A smaller young generation
// (--max-semi-space-size=8) keeps `ofa up` with 10k assets × 20 items near 210 MiB RSS instead of 320 MiB
// (bench/serve-state-memory.ts). Started by an older Node
// (the machine's own, outside npm scripts), it hands over to the project's Node 24 from the `node` package.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

if (Number(process.versions.node.split('.')[0]) < 24) {
  const node24 = fileURLToPath(new URL('../../../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(node24)) {
    console.error(`ofa needs Node.js 24 (this is ${process.version}); run "npm ci" in the OpenFactory folder first`)
    process.exit(2)
  }
  const child = spawn(node24, ['--max-semi-space-size=8', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  })
  // Signals sent to this process are passed on, and this one waits for the real one to stop cleanly. (Ctrl-C
  // reaches both from the terminal: `ofa` takes a repeated SIGINT or SIGTERM as the same request to stop.)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    })
  }
  child.on('error', (err) => {
    console.error(`ofa: cannot start ${node24}: ${err.message}`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)))
} else {
  // A reader that goes away (`ofa log tail | head`) is not an error.
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  const { main } = await import('../src/main.ts')
  const code = await main(process.argv.slice(2))
  process.exitCode = code
  // The command has closed what it opened (logs flushed, connections closed). A handle a library left behind (a
  // client's retry timer, a socket the peer has not closed yet) must not keep a stopped process alive: a supervisor
  // would wait for it. Say what it was, so that it can be found, and exit.
  setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout')
    process.stderr.write(`ofa: still running 5 s after the command ended (${left.join(', ') || 'timers'}); exiting\n`)
    process.exit(code)
  }, 5000).unref()
}
