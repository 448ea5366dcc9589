/**
 * Builds the dashboard with Vite (web/ → dist/): one bundle of the app's modules, Preact, @preact/signals and uPlot,
 * with its stylesheet, under hashed names in dist/static/ (the serving app lets browsers keep those for a year) and
 * an index.html that names them. Nothing is inline (the page's Content-Security-Policy forbids inline scripts) and
 * nothing is fetched from elsewhere at run time (no CDN, system fonts only).
 *
 * `node packages/dashboard/src/build.ts` (what `npm run build -w @openfactory/dashboard` and the root `prepare` run,
 * so `npm ci` builds it) builds into dist/; `--quiet` prints one line, `--if-vite` does nothing where Vite is not
 * installed (an install without dev dependencies). The build goes to a temporary folder beside dist/ first, renamed into
 * place when complete: a server reading dist/ meanwhile, or another build at the same time (two test processes),
 * never sees a half-written folder.
 */
import { rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DASHBOARD_DIST, dashboardBuilt } from './dist.ts'

const WEB = fileURLToPath(new URL('../web/', import.meta.url))

export interface BuildDashboardOptions {
  /** Where to write the built files (default: dist/ of this package). */
  readonly outDir?: string
  /** Vite's output: 'info' prints the files and their sizes (default 'warn'). */
  readonly logLevel?: 'info' | 'warn' | 'error' | 'silent'
  /** Keep a build that another process put in place meanwhile, rather than replace it (default false). */
  readonly keepExisting?: boolean
}

/** Builds the dashboard into `outDir` (default dist/), replacing what was there. Returns the folder. */
export async function buildDashboard(opts: BuildDashboardOptions = {}): Promise<string> {
  const { build } = await import('vite')
  const outDir = path.resolve(opts.outDir ?? DASHBOARD_DIST)
  const tmp = `${outDir}.building-${process.pid}-${Date.now()}`
  try {
    await build({
      root: WEB,
      configFile: false,
      base: '/',
      logLevel: opts.logLevel ?? 'warn',
      publicDir: false,
      oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
      build: {
        outDir: tmp,
        emptyOutDir: true,
        // Not `assets/`: the app's own paths are client-side routes, and the server tells files from routes by
        // this prefix.
        assetsDir: 'static',
        target: 'es2022',
        sourcemap: false,
        // Everything in files: an inline `data:` module or script would need the policy to allow it.
        assetsInlineLimit: 0,
        modulePreload: { polyfill: false },
        reportCompressedSize: false,
      },
    })
    if (opts.keepExisting && dashboardBuilt(outDir)) return outDir
    await rm(outDir, { recursive: true, force: true })
    await rename(tmp, outDir).catch(async (err: NodeJS.ErrnoException) => {
      // Another build renamed its folder into place between our rm and rename: it holds the same files.
      if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && dashboardBuilt(outDir)) return
      throw err
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return outDir
}

/** Builds the dashboard into dist/ unless it is there already (tests, `ofa image build`). */
export async function ensureDashboard(): Promise<string> {
  if (dashboardBuilt()) return DASHBOARD_DIST
  return buildDashboard({ keepExisting: true })
}

/** Vite is there (a dev dependency: `npm ci --omit=dev` has none). */
async function viteInstalled(): Promise<boolean> {
  try {
    await import('vite')
    return true
  } catch {
    return false
  }
}

if (import.meta.main) {
  const started = Date.now()
  // `--if-vite`: the root package's `prepare` (every `npm ci`); an install without dev dependencies builds nothing.
  if (process.argv.includes('--if-vite') && !(await viteInstalled())) {
    console.warn('dashboard not built: Vite is not installed (npm ci without dev dependencies)')
    process.exit(0)
  }
  buildDashboard({ logLevel: process.argv.includes('--quiet') ? 'warn' : 'info' }).then(
    (dir) => console.log(`dashboard built into ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`),
    (err: unknown) => {
      console.error(`dashboard build failed: ${err instanceof Error ? err.message : String(err)}`)
      process.exit(1)
    },
  )
}
