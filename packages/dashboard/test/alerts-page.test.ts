// The dashboard's Alerts page in a real browser (Debian's Chromium: scripts/chromium.ts) against `ofa up` of a
// factory with a simulated oven and an alerts app: a method call heats the oven, the alert shows on the page, the
// Acknowledge button acknowledges it (the page then says who), cooling clears it and the page has no open alert; no
// console error and no Content-Security-Policy violation meanwhile. Screenshots go to test-artifacts/dashboard/alerts/.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { launchChromium, openPage } from '../../../scripts/chromium.ts'
import { ovenFactory } from '../../alerts/test/oven-factory.ts'
import { startOfa } from '../../cli/test/helpers.ts'
import { ensureDashboard } from '../src/index.ts'
import { artifacts, shot, textMatching } from './helpers.ts'

test('the Alerts page: an alert shows, is acknowledged with its button, and goes once cleared', {
  timeout: 180_000,
}, async (t) => {
  await ensureDashboard()
  const { factory, data } = await ovenFactory(
    t,
    'apps:\n  alerts:\n    uuid: ALERTS\n    alerts:\n      rules:\n        - {id: hot, asset: OVEN-1, item: temp, above: 50, severity: critical, message: Oven too hot}\n',
  )
  const browser = await launchChromium(t)
  const up = startOfa(t, ['up', factory, '--port', '0', '--data', data], {})
  const base = await up.url
  const shots = await artifacts(t, 'alerts')
  const { page, problems } = await openPage(browser)
  const setTemp = async (value: number) => {
    const res = await fetch(`${base}/api/assets/OVEN-1/methods/SetTemp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ t: value }),
    })
    assert.equal(res.status, 200, await res.text())
  }
  try {
    await page.goto(`${base}/alerts`)
    await page.getByRole('heading', { name: 'Alerts' }).waitFor()
    await textMatching(page.locator('main'), /No open alert/)
    await setTemp(80)
    const row = page.getByRole('row', { name: /OVEN-1/ })
    await textMatching(row, /critical.*OVEN-1.*hot.*active.*Oven too hot: temp 80 above 50/)
    await shot(page, shots, '01-raised')
    await page.getByRole('button', { name: 'Acknowledge hot on OVEN-1' }).click()
    await textMatching(row, /active, acknowledged by open/)
    await shot(page, shots, '02-acknowledged')
    await setTemp(20)
    await textMatching(page.locator('main'), /No open alert/)
    await shot(page, shots, '03-over')
    // The Alerts page is one of the header's pages.
    assert.equal(await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Alerts' }).count(), 1)
    assert.deepEqual(problems.all(), [])
  } finally {
    up.child.kill('SIGTERM')
    await up.exited
  }
})
