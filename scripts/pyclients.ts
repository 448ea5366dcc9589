// ksqlDB REST clients from PyPI, for the tests that drive our ksqlDB-compatible routes with clients we did not write
// (packages/serve/test/http/ksql-clients.test.ts): ksql-python-ng, pinned with its dependencies in
// scripts/peers/pyclients-requirements.txt, installed once into .cache/pyclients/venv-<hash> (python-env.ts: a lock
// file keeps concurrent test processes from installing it twice; a fresh machine needs Python 3.10+ with venv and
// PyPI). Run through Node 24:
//
//   node scripts/pyclients.ts install      install (once) and print the venv's python
import fs from 'node:fs'
import path from 'node:path'
import { ensurePythonEnv, ROOT } from './python-env.ts'

const REQUIREMENTS = path.join(ROOT, 'scripts', 'peers', 'pyclients-requirements.txt')

/** The Python program that drives ksql-python-ng (its steps and output: see its docstring). */
export const KSQL_PYTHON_CLIENT = path.join(ROOT, 'scripts', 'peers', 'ksql_python_client.py')

/** The ksql-python-ng version the requirements file pins. */
export const KSQL_PYTHON_NG_VERSION =
  /^ksql-python-ng==(\S+)$/m.exec(fs.readFileSync(REQUIREMENTS, 'utf8'))?.[1] ?? 'unknown'

/** Installs the pinned clients from PyPI once; returns the venv's python. */
export function install(log?: (message: string) => void): Promise<string> {
  return ensurePythonEnv({
    name: 'pyclients',
    requirements: REQUIREMENTS,
    check: 'import ksql, httpx, h2',
    ...(log ? { log: (m: string) => log(`ksql-python-ng ${KSQL_PYTHON_NG_VERSION}: ${m}`) } : {}),
  })
}

if (import.meta.main) {
  const [cmd] = process.argv.slice(2)
  if (cmd !== 'install') {
    process.stderr.write('usage: node scripts/pyclients.ts install\n')
    process.exit(2)
  }
  install((m) => process.stderr.write(`${m}\n`)).then(
    (python) => process.stdout.write(`${python}\n`),
    (err: unknown) => {
      process.stderr.write(`scripts/pyclients: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
