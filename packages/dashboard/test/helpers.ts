/**
 * Helpers of the dashboard's browser tests: where screenshots go, and waiting on what a page shows (no sleeps: each
 * wait polls until the page shows it, and fails naming what it waited for).
 */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Locator, Page } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** `test-artifacts/dashboard/<run>/` of the repository (git-ignored), made now; said in the test's output. */
export async function artifacts(t: TestContext, run: string): Promise<string> {
  const dir = path.join(ROOT, 'test-artifacts', 'dashboard', run)
  await mkdir(dir, { recursive: true })
  t.diagnostic(`screenshots of the ${run} run: ${dir}`)
  return dir
}

/** A full-page screenshot `<dir>/<name>.png`. */
export async function shot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true })
}

/** Waits until `locator`'s text matches `re` (the first element's), and returns the text. */
export async function textMatching(locator: Locator, re: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    last = ((await locator
      .first()
      .textContent({ timeout: Math.max(1, deadline - Date.now()) })
      .catch(() => null)) ?? '') as string
    if (re.test(last)) return last
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${locator} to match ${re}; it shows ${JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Waits until `check` gives a value other than undefined/false, and returns it. */
export async function until<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check().catch(() => undefined)
    if (v !== undefined && v !== false) return v as T
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface BrowserElement {
  getAttribute(name: string): string | null
  querySelector(selector: string): BrowserElement | null
  readonly textContent: string | null
}

/** The text of the focused element and its role (what a screen reader announces, roughly). */
export async function focused(page: Page): Promise<{ role: string | null; text: string }> {
  return page.evaluate(() => {
    // Runs in the page (this file is type-checked without the DOM's types).
    const doc = (globalThis as unknown as { document: { activeElement: BrowserElement | null } }).document
    const el = doc.activeElement
    // A tree row: its label (the rest of its text is the availability).
    const text = el?.querySelector('.label')?.textContent ?? el?.textContent ?? ''
    return { role: el?.getAttribute('role') ?? null, text: text.trim() }
  })
}
