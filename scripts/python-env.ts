// Python environments for the test peers we did not write (asyncua's OPC UA server, confluent-kafka apps, ksqlDB
// REST clients): each a venv under .cache/<name>/venv-<hash of its requirements file>, installed from PyPI once
// (an edit of the requirements makes a new one), guarded by a lock file so that concurrent test processes install
// it once. A marker file written last makes a half-made venv (an interrupted install) count as absent.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { withLock } from './lock-file.ts'

export const ROOT = path.resolve(import.meta.dirname, '..')

/** Runs a command without blocking the event loop; rejects with its output. */
export function runOrThrow(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code ?? signal}):\n${out}`)),
    )
  })
}

/** A Python 3.10+ interpreter with the venv module: python3.11 first (the version our pins were checked with). */
export function findPython(): string {
  for (const cmd of ['python3.11', 'python3.12', 'python3.13', 'python3']) {
    const r = spawnSync(cmd, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' })
    if (r.status !== 0) continue
    const [major, minor] = r.stdout.trim().split('.').map(Number) as [number, number]
    if (major === 3 && minor >= 10) return cmd
  }
  throw new Error('the Python test peers need Python 3.10 or newer with the venv module (Debian: python3-venv)')
}

export interface PythonEnvOptions {
  /** The folder under .cache/ (e.g. `opcua`). */
  readonly name: string
  /** The pinned requirements file; its hash names the venv. */
  readonly requirements: string
  /** Python that must run once installed (e.g. `import asyncua`). */
  readonly check: string
  /** Progress lines (default: none). */
  readonly log?: (message: string) => void
}

/** The venv's folder: .cache/<name>/venv-<hash of the requirements>. */
export function pythonEnvDir(opts: Pick<PythonEnvOptions, 'name' | 'requirements'>): string {
  const hash = createHash('sha256').update(fs.readFileSync(opts.requirements)).digest('hex').slice(0, 12)
  return path.join(ROOT, '.cache', opts.name, `venv-${hash}`)
}

/** Installs the requirements into the venv once; returns the venv's python. */
export async function ensurePythonEnv(opts: PythonEnvOptions): Promise<string> {
  const dir = pythonEnvDir(opts)
  const python = path.join(dir, 'bin', 'python')
  const done = path.join(dir, '.complete')
  if (fs.existsSync(done)) return python
  return withLock(path.join(ROOT, '.cache', opts.name), 'install', async () => {
    if (fs.existsSync(done)) return python
    const started = Date.now()
    opts.log?.(`installing ${path.relative(ROOT, opts.requirements)} from PyPI into ${path.relative(ROOT, dir)} ...`)
    fs.rmSync(dir, { recursive: true, force: true })
    await runOrThrow(findPython(), ['-m', 'venv', dir])
    await runOrThrow(python, [
      '-m',
      'pip',
      'install',
      '-q',
      '--disable-pip-version-check',
      '--no-input',
      '-r',
      opts.requirements,
    ])
    await runOrThrow(python, ['-c', opts.check])
    fs.writeFileSync(done, `${new Date().toISOString()}\n`)
    opts.log?.(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return python
  })
}
