// Headless Chromium for the browser tests (the dashboard, Swagger UI): Debian's `chromium` package, driven by npm's
// playwright-core over the DevTools protocol. No browser is ever downloaded: playwright-core is given Debian's binary.
// Run it through `scripts/chromium` (which picks the project's Node 24):
//
//   scripts/chromium install     install Debian's chromium when it is missing (apt-get update once, then install)
//   scripts/chromium path        print the browser's executable
//   scripts/chromium version     print its version
//
// scripts/test.ts installs it before the tests, beside docker.io and kcat; a test calls `launchChromium(t)`, which
// installs it too when missing (a test run on its own on a fresh machine), and `watchPage(page)` to collect what the
// page's console says (errors, Content-Security-Policy violations).
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core'
import { withLock } from './lock-file.ts'
import { log, runScript, UsageError } from './script-cli.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'chromium')

/** Where Debian's package puts the browser (the binary itself; `/usr/bin/chromium` is a shell wrapper that adds flags of /etc/chromium.d). */
const CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium']

/**
 * Flags of every launch: headless, no sandbox (the tests run as root, where Chromium's sandbox refuses to start),
 * no GPU (none on these machines), and no background traffic (update checks, field trials, safe browsing: the
 * machine reaches no such service, and a test talks to 127.0.0.1 only).
 */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/** The browser's executable, or undefined when Debian's chromium is not installed. */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p) => spawnSync('test', ['-x', p]).status === 0) ?? which('chromium')
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

async function runOrThrow(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const r = await run(cmd, args, env)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.output.slice(-4000)}`)
}

/**
 * Installs Debian's chromium when it is missing: `apt-get update`, then `apt-get install`, holding a lock so that
 * concurrent test processes install it once, and waiting for dpkg's lock while another install (docker.io, kcat)
 * holds it. Returns the executable.
 */
export async function ensureChromium(): Promise<string> {
  const found = chromiumPath()
  if (found) return found
  return withLock(CACHE, 'install', async () => {
    const again = chromiumPath()
    if (again) return again
    if (!which('apt-get')) throw new Error('chromium is missing and there is no apt-get to install it with')
    const started = Date.now()
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    log('$ apt-get update')
    await runOrThrow('apt-get', ['update', '-q'], env)
    log('$ apt-get install -y chromium')
    const wait = ['-o', 'DPkg::Lock::Timeout=300']
    await runOrThrow('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...wait, 'chromium'], env)
    const installed = chromiumPath()
    if (!installed) throw new Error('apt-get installed chromium, yet no chromium executable is on PATH')
    log(`chromium installed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return installed
  })
}

/** The installed browser's version line (`Chromium 156.0...`). */
export function chromiumVersion(executable: string): string {
  const r = spawnSync(executable, ['--version'], { encoding: 'utf8' })
  return (r.stdout || r.stderr).trim()
}

/** A headless Chromium for a test (installed first when missing), closed after it. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const executablePath = await ensureChromium()
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true })
  t.after(() => browser.close())
  return browser
}

/** A new page of a fresh context (its own storage: sessionStorage, cookies), watched by `watchPage`. */
export async function openPage(
  browser: Browser,
  opts: BrowserContextOptions = {},
): Promise<{ page: Page; problems: PageProblems }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts })
  const page = await context.newPage()
  return { page, problems: watchPage(page) }
}

/** What went wrong in a page, as its console and the browser reported it. */
export interface PageProblems {
  /** Console errors (a refused resource, a failed request, an uncaught exception). */
  readonly errors: string[]
  /** Content-Security-Policy violations: `directive: blocked URI` (from the page's `securitypolicyviolation` events). */
  readonly csp: string[]
  /** Everything above, one line each; empty when the page behaved. */
  all(): string[]
}

/**
 * Collects a page's console errors, uncaught exceptions and CSP violations. The violations are read by a listener
 * added before any script of the page runs (DevTools' "script to evaluate on new document", which a page's policy
 * does not block), reporting through a binding; Chromium also logs each on the console as an error ("Refused to ...").
 */
export function watchPage(page: Page): PageProblems {
  const errors: string[] = []
  const csp: string[] = []
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`)
  })
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`))
  void page
    .exposeBinding('__ofaCspViolation', (_source, text: string) => {
      csp.push(text)
    })
    .then(() =>
      // Browser code, as text: it runs in the page, not here.
      page.addInitScript({
        content: `document.addEventListener('securitypolicyviolation', (e) => {
          window.__ofaCspViolation?.(e.violatedDirective + ': ' + (e.blockedURI || '(inline)') + ' at ' + e.sourceFile + ':' + e.lineNumber)
        })`,
      }),
    )
  return {
    errors,
    csp,
    all: () => [...errors, ...csp.map((c) => `CSP: ${c}`)],
  }
}

const USAGE = `usage:
  scripts/chromium install    install Debian's chromium when it is missing (apt-get)
  scripts/chromium path       print the browser's executable (exit 1 when not installed)
  scripts/chromium version    print its version`

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`)
  switch (cmd) {
    case 'install': {
      const exe = await ensureChromium()
      process.stdout.write(`${chromiumVersion(exe)} at ${exe}\n`)
      return 0
    }
    case 'path': {
      const exe = chromiumPath()
      if (exe) process.stdout.write(`${exe}\n`)
      return exe ? 0 : 1
    }
    case 'version': {
      const exe = chromiumPath()
      if (!exe) throw new Error('chromium is not installed: scripts/chromium install')
      process.stdout.write(`${chromiumVersion(exe)}\n`)
      return 0
    }
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`)
      return 0
    default:
      throw new UsageError(`unknown command ${cmd}`)
  }
}

if (import.meta.main) runScript('scripts/chromium', USAGE, main)
