// An MTConnect client from PyPI, for the tests that drive our agent façade (/mtconnect) with a client we did not write
// (packages/serve/test/mtconnect/): pymtconnect, pinned with its dependencies in scripts/peers/mtconnect-requirements.txt,
// installed once into .cache/mtconnect-client/venv-<hash> (python-env.ts: a lock file keeps concurrent test processes
// from installing it twice; a fresh machine needs Python 3.10+ with venv and PyPI). Run through Node 24:
//
//   node scripts/mtconnect-client.ts install      install (once) and print the venv's python
import fs from 'node:fs'
import path from 'node:path'
import { ensurePythonEnv, ROOT } from './python-env.ts'

const REQUIREMENTS = path.join(ROOT, 'scripts', 'peers', 'mtconnect-requirements.txt')

/** The Python program that drives pymtconnect and reads the XML documents (its commands and output: its docstring). */
export const MTCONNECT_CLIENT = path.join(ROOT, 'scripts', 'peers', 'mtconnect_client.py')

/** The pymtconnect version the requirements file pins. */
export const PYMTCONNECT_VERSION = /^pymtconnect==(\S+)$/m.exec(fs.readFileSync(REQUIREMENTS, 'utf8'))?.[1] ?? 'unknown'

/** Installs the pinned client from PyPI once; returns the venv's python. */
export function install(log?: (message: string) => void): Promise<string> {
  return ensurePythonEnv({
    name: 'mtconnect-client',
    requirements: REQUIREMENTS,
    check: 'import pymtconnect.mtconnect_client, requests',
    ...(log ? { log: (m: string) => log(`pymtconnect ${PYMTCONNECT_VERSION}: ${m}`) } : {}),
  })
}

if (import.meta.main) {
  const [cmd] = process.argv.slice(2)
  if (cmd !== 'install') {
    process.stderr.write('usage: node scripts/mtconnect-client.ts install\n')
    process.exit(2)
  }
  install((m) => process.stderr.write(`${m}\n`)).then(
    (python) => process.stdout.write(`${python}\n`),
    (err: unknown) => {
      process.stderr.write(`scripts/mtconnect-client: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
