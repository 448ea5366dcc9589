// Swagger UI (/api/docs) in a real browser, over HTTP and over HTTPS: headless Chromium (Debian's, driven by
// playwright-core: scripts/chromium.ts) renders the page under its Content-Security-Policy (security-headers.ts
// DOCS_CSP) with no violation and no console error, and "Try it out" reaches this server (`connect-src 'self'`).
// Screenshots in test-artifacts/swagger-ui/ (the path is printed as a diagnostic).
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { launchChromium, openPage } from '../../../../scripts/chromium.ts'
import { createServeApp } from '../../src/index.ts'
import { createTestLog, createTestServing, declare, sensor, waitFor } from '../helpers/log.ts'
import { createTestPki } from '../helpers/tls.ts'

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/swagger-ui/', import.meta.url))

async function serve(t: TestContext, tls: boolean): Promise<string> {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await waitFor('m-1', () => serving.state.item('m-1', 'system'))
  const pki = tls ? await createTestPki(t) : undefined
  const app = await createServeApp({ eventLog: log, serving, ...(pki ? { tls: pki } : {}) })
  t.after(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `${tls ? 'https' : 'http'}://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

for (const scheme of ['http', 'https'] as const) {
  test(`Swagger UI renders in Chromium over ${scheme.toUpperCase()} with no policy violation`, {
    timeout: 120_000,
  }, async (t) => {
    const base = await serve(t, scheme === 'https')
    const browser = await launchChromium(t)
    // The test CA is not the browser's: its certificate errors are let through (what is checked is the policy).
    const { page, problems } = await openPage(browser, scheme === 'https' ? { ignoreHTTPSErrors: true } : {})
    const answer = await page.goto(`${base}/api/docs/`)
    assert.equal(answer?.status(), 200)
    assert.match(
      (await answer?.allHeaders())?.['content-security-policy'] ?? '',
      /^default-src 'self'; script-src 'self';/,
    )
    const title = page.locator('.swagger-ui .info .title')
    await title.waitFor()
    assert.match((await title.textContent()) ?? '', /OpenFactory API/)
    // "Try it out" on GET /healthz: the UI's own request to this server, under `connect-src 'self'`.
    const op = page.locator('.opblock', { has: page.locator('[data-path="/healthz"]') }).first()
    await op.locator('.opblock-summary').first().click()
    await op.getByRole('button', { name: 'Try it out' }).click()
    await op.getByRole('button', { name: 'Execute' }).click()
    await op.locator('.live-responses-table .response-col_status', { hasText: '200' }).first().waitFor()
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, `${scheme}.png`), fullPage: true })
    t.diagnostic(`screenshot: ${join(ARTIFACTS, `${scheme}.png`)}`)
    assert.deepEqual(problems.all(), [])
  })
}
