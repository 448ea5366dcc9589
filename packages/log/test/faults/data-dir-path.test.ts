// Issue 10, item 8: a data directory where writes fail oddly (under /proc, `mkdir` answers ENOENT although the
// parent exists; Node's recursive mkdir then retries for ever at 100 % CPU). Opening must fail at once with
// OFA_LOG_IO naming the path and the operating system's error. Run in a child process, killed after 10 s, so
// that a loop shows up as a failed test rather than a hung one.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { tempDir } from '../helpers.ts'

const CHILD = path.join(import.meta.dirname, '..', 'fixtures', 'log-child.ts')

/** Runs `log-child.ts <dir> open-error`; its one line of output, or null when it had to be killed. */
function openInChild(dir: string): Promise<{ line: string | null; ms: number }> {
  const t0 = Date.now()
  const proc = spawn(process.execPath, [CHILD, dir, 'open-error'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  proc.stdout!.setEncoding('utf8')
  proc.stdout!.on('data', (c: string) => {
    out += c
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  return new Promise((resolve) => {
    proc.on('exit', (_code, signal) => {
      clearTimeout(timer)
      resolve({ line: signal === 'SIGKILL' ? null : out.trim(), ms: Date.now() - t0 })
    })
  })
}

describe('faults: a data directory where writes fail (issue 10, item 8)', () => {
  const cases: [string, (tmp: string) => string, RegExp][] = [
    ['under /proc', () => `/proc/ofa-data-${process.pid}`, /ENOENT/],
    [
      'whose parent is a file',
      (tmp) => {
        fs.writeFileSync(path.join(tmp, 'file'), 'x')
        return path.join(tmp, 'file', 'data')
      },
      /ENOTDIR/,
    ],
  ]
  if (fs.existsSync('/proc/self')) cases.push(['inside /proc/self', () => '/proc/self/ofa-data', /ENOENT|EACCES|EPERM/])
  for (const [name, dirOf, osError] of cases) {
    it(`fails at once with OFA_LOG_IO naming the path and the OS error: ${name}`, { timeout: 20_000 }, async (t) => {
      const dir = dirOf(tempDir(t))
      const { line, ms } = await openInChild(dir)
      assert.ok(line !== null, `opening ${dir} did not end within 10 s`)
      const err = JSON.parse(line) as { code: string; message: string; where?: { file?: string } }
      assert.equal(err.code, 'OFA_LOG_IO', line)
      assert.ok(err.message.includes(dir), err.message)
      assert.match(err.message, osError)
      assert.ok(ms < 10_000)
    })
  }
})
