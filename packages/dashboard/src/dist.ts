/** Where the built dashboard is. Node built-ins only: this runs in the project's image, which has no Vite. */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The built dashboard: index.html and its hashed files under static/ (git-ignored; made by `npm ci`). */
export const DASHBOARD_DIST: string = fileURLToPath(new URL('../dist/', import.meta.url))

/** The command that builds it, for messages. */
export const DASHBOARD_BUILD_COMMAND = 'npm run build -w @openfactory/dashboard'

/** True when `dir` (default: dist/) holds a built dashboard. */
export function dashboardBuilt(dir: string = DASHBOARD_DIST): boolean {
  return existsSync(`${dir.replace(/\/$/, '')}/index.html`)
}
