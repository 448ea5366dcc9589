// The dashboard in a real browser (Debian's Chromium driven by playwright-core: scripts/chromium.ts) against a real
// serving app: `ofa up` of a copy of the demo factory on a free port, with the simulator's live data, the replayed
// MTConnect mill, the SQL engine. Each step is a subtest, so that one that cannot pass (a server feature missing)
// leaves the others to run and report: load and walk the UNS tree with the keyboard to an asset, see a live value
// change, scrub to a past instant and see the value the asset had then, send a command and see its answer and its
// line in the command history, open a chart and zoom by dragging (the range is asked for again), the events,
// services and SQL pages; no console error and no Content-Security-Policy violation in the whole run. A second run
// with authentication on signs in with an API key made through the API. Screenshots of every page go to
// test-artifacts/dashboard/ (the path is printed as a diagnostic of the test).
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { type Asset, AssetEvents, encodeAssetDeclaration, encodeObservation, TOPICS } from '@openfactory/model'
import { createServeApp } from '@openfactory/serve'
import type { Page } from 'playwright-core'
import { launchChromium, openPage } from '../../../scripts/chromium.ts'
import { demoCopy, getJson, ofa, startOfa } from '../../cli/test/helpers.ts'
import { createTestLog, createTestServing } from '../../serve/test/helpers/log.ts'
import { DASHBOARD_DIST, ensureDashboard } from '../src/index.ts'
import { artifacts, focused, shot, textMatching, until } from './helpers.ts'

const CNC = 'DEMO-CNC-SIM-001'

/** `ofa up` of a copy of the demo factory on a free port (with `auth: {keys: true}` when `auth`). */
async function startDemo(t: TestContext, opts: { auth?: boolean } = {}) {
  await ensureDashboard()
  const dir = await demoCopy(t)
  const data = join(dir, '..', 'data')
  if (opts.auth) {
    const manifest = join(dir, 'factory.yaml')
    await writeFile(manifest, `${await readFile(manifest, 'utf8')}\nauth:\n  keys: true\n`)
  }
  return { dir, data, start: () => startOfa(t, ['up', dir, '--port', '0', '--data', data], {}) }
}

/** The input value of a datetime-local field for `ms`, in the browser's time zone. */
function localInput(page: Page, ms: number): Promise<string> {
  return page.evaluate((t) => {
    const d = new Date(t)
    const p = (n: number) => String(n).padStart(2, '0')
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  }, ms)
}

/** The value the data item table shows for `item` (the number or string, without units). */
function shownValue(page: Page, item: string): Promise<string> {
  return page
    .locator(`tr[data-item="${item}"] td.value`)
    .first()
    .evaluate((td) => (td.querySelector('.v') ?? td).textContent ?? '')
}

function show(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000)) : String(v)
}

test('the dashboard over ofa up of the demo factory, API open', { timeout: 600_000 }, async (t) => {
  const demo = await startDemo(t)
  const browser = await launchChromium(t)
  const up = demo.start()
  const base = await up.url
  assert.match(up.output(), /^ {2}dashboard {2}http:\/\/127\.0\.0\.1:\d+\/$/m, 'ofa up prints the dashboard address')
  const dir = await artifacts(t, 'open')
  const { page, problems } = await openPage(browser)

  await t.test('loads; the UNS tree is walked with the keyboard down to an asset, which opens', async () => {
    await page.goto(`${base}/`)
    const root = page.getByRole('treeitem', { name: /^.?Demofactory/ })
    await root.waitFor()
    await textMatching(root, /[1-3] of 3 available/)
    await textMatching(page.locator('.tree-count'), /^3 assets$/)
    await page.getByRole('searchbox', { name: 'Search assets' }).focus()
    await page.keyboard.press('Tab')
    assert.match((await focused(page)).text, /Demofactory/, 'Tab goes from the search field to the tree')
    assert.equal((await focused(page)).role, 'treeitem')
    const steps: [string, RegExp][] = [
      ['ArrowDown', /Machining/],
      ['ArrowRight', /Machining/], // expands
      ['ArrowDown', /WC001/],
      ['ArrowRight', /WC001/],
      ['ArrowDown', /ST01/],
      ['ArrowRight', /ST01/],
      ['ArrowDown', /cnc-sim \(DEMO-CNC-SIM-001\)/],
    ]
    for (const [key, expected] of steps) {
      await page.keyboard.press(key)
      await until(async () => expected.test((await focused(page)).text), `${key} to focus ${expected}`)
      if (key === 'ArrowRight') {
        const row = page.getByRole('treeitem', { name: expected }).first()
        await until(async () => (await row.getAttribute('aria-expanded')) === 'true', `${expected} open`)
      }
    }
    assert.equal(await page.getByRole('treeitem', { name: /Machining/ }).getAttribute('aria-expanded'), 'true')
    assert.equal(await page.getByRole('treeitem', { name: /cnc-sim/ }).getAttribute('aria-level'), '5')
    await shot(page, dir, '01-tree')
    await page.keyboard.press('Enter')
    await page.waitForURL(`${base}/asset/${CNC}`)
    await textMatching(page.getByRole('heading', { level: 1 }), new RegExp(`^${CNC}$`))
    await textMatching(page.locator('.identity'), /Demofactory\/Machining\/WC001\/ST01\/cnc-sim/)
    assert.equal(await page.title(), `${CNC} · OpenFactory`)
  })

  await t.test('a live value changes on the asset page, with its units, quality and age', async () => {
    await page.goto(`${base}/asset/${CNC}`)
    const first = await until(async () => {
      const v = await shownValue(page, 'spindle_speed')
      return /^\d/.test(v) ? v : undefined
    }, 'a spindle speed')
    await until(async () => (await shownValue(page, 'spindle_speed')) !== first, 'the spindle speed to change')
    await textMatching(page.locator('tr[data-item="spindle_speed"] td.value'), /REVOLUTION\/MINUTE/)
    await textMatching(page.locator('tr[data-item="spindle_speed"] td.quality'), /^GOOD$/)
    await textMatching(page.locator('tr[data-item="spindle_speed"] td.age'), /^\d+ s$/)
    await textMatching(page.locator('.asset-head .badge'), /^AVAILABLE$/)
    await page.getByRole('heading', { name: 'Documents' }).waitFor()
    await shot(page, dir, '02-asset-live')
  })

  await t.test('scrubbed to a past instant, the asset shows the value it had then, marked as the past', async () => {
    // Two observations of the spindle speed of some seconds ago (source time ≈ append time for the simulator); the
    // instant half-way between them is at least 200 ms from both, so the state at it is the first one's.
    const { obs, pair } = await until(async () => {
      const from = new Date(Date.now() - 60_000).toISOString()
      const hist = await getJson(`${base}/api/assets/${CNC}/history?id=spindle_speed&from=${from}&limit=1000`)
      const obs = (hist.items as { timestamp: string; value: unknown }[]).map((i) => ({
        t: Date.parse(i.timestamp),
        v: i.value,
      }))
      const pair = obs.findLast(
        (o, i) =>
          typeof o.v === 'number' && i + 1 < obs.length && obs[i + 1]!.t - o.t >= 400 && o.t < Date.now() - 3000,
      )
      return pair ? { obs, pair } : undefined
    }, 'two observations of the spindle speed 400 ms apart, 3 s ago')
    const next = obs[obs.indexOf(pair) + 1]!
    const at = Math.round((pair.t + next.t) / 2)
    await page.goto(`${base}/asset/${CNC}?at=${new Date(at).toISOString()}`)
    await textMatching(page.locator('.past-banner'), /The past:/)
    await textMatching(page.locator('#items-caption'), /^Data items as of /)
    await until(async () => (await shownValue(page, 'spindle_speed')) === show(pair.v), `the value ${show(pair.v)}`)
    await shot(page, dir, '03-asset-past')

    // Back to live: the banner goes, live values again.
    await page.getByRole('button', { name: 'Back to live' }).first().click()
    await page.locator('.past-banner').waitFor({ state: 'detached' })
    assert.doesNotMatch(page.url(), /at=/)
    await textMatching(page.locator('#items-caption'), /^Data items, live$/)

    // The "As of" field: a whole second of a few seconds ago shows the state the API has for it.
    const second = Math.ceil(next.t / 1000) * 1000
    await page.locator('input[name="as-of"]').fill(await localInput(page, second))
    await page.waitForURL(/\?at=/)
    const then = await getJson(`${base}/api/assets/${CNC}?at=${new Date(second).toISOString()}`)
    const expected = (then.state as { id: string; value: unknown }[]).find((i) => i.id === 'spindle_speed')
    assert.ok(expected, 'the API has the spindle speed at that second')
    await textMatching(page.locator('.past-banner'), /The past:/)
    await until(
      async () => (await shownValue(page, 'spindle_speed')) === show(expected.value),
      'the value at that second',
    )
    await page.getByRole('button', { name: 'Back to live' }).first().click()
    await page.locator('.past-banner').waitFor({ state: 'detached' })

    // The slider, with the keyboard: one step is one second back.
    await page.getByRole('slider', { name: 'Seconds before now' }).focus()
    await page.keyboard.press('ArrowRight')
    await textMatching(page.locator('.past-banner'), /The past:/)
    await page.getByRole('button', { name: 'Back to live' }).first().click()
    await page.locator('.past-banner').waitFor({ state: 'detached' })
  })

  await t.test('a method form sends a command; its answer and its line in the command history show', async () => {
    await page.goto(`${base}/asset/${CNC}`)
    const form = page.locator('form#method-SetSpeed')
    await form.getByRole('spinbutton', { name: /rpm/ }).fill('6543')
    await form.getByRole('button', { name: 'Send SetSpeed' }).click()
    await textMatching(form.locator('output'), /^Answer: completed: \{"spindle_speed":6543\}$/)
    const row = page.locator('table.commands tbody tr').first()
    await textMatching(row, /SetSpeed.*\{"rpm":6543\}.*completed/)
    // A required argument left empty: the browser refuses to send the form.
    await form.getByRole('spinbutton', { name: /rpm/ }).fill('')
    await form.getByRole('button', { name: 'Send SetSpeed' }).click()
    assert.equal(await form.locator('input:invalid').count(), 1)
    await page.locator('form#method-FeedHold').getByRole('button', { name: 'Send FeedHold' }).click()
    await textMatching(page.locator('form#method-FeedHold output'), /^Answer: completed/)
    await shot(page, dir, '04-asset-command')
  })

  await t.test('a chart of the asset over the last 15 min; a drag zooms in and asks for the new range', async () => {
    await page.goto(`${base}/asset/${CNC}`)
    await page.getByRole('link', { name: 'Trends of this asset' }).click()
    await page.waitForURL(/\/trends\?asset=DEMO-CNC-SIM-001&items=spindle_speed%2Cspindle_load%2Cx_position/)
    await page.getByRole('radio', { name: 'Last 15 min' }).check()
    const status = page.locator('.chart-tools .muted')
    await textMatching(status, /, [1-9]\d* buckets of \d+ ms/)
    await page.locator('.chart canvas').waitFor()
    const before = await until(async () => {
      const u = new URL(page.url())
      return u.searchParams.get('range') === '15m' ? u : undefined
    }, 'the 15 min range in the address')
    assert.equal(before.searchParams.get('from'), null)
    const over = page.locator('.chart .u-over')
    const box = await over.boundingBox()
    assert.ok(box, 'the plot area')
    const asked = page.waitForRequest((r) => r.url().includes('/history?') && r.url().includes('buckets='))
    // The last tenth of the plot (the demo has run for seconds: its data is at the right end).
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.998, box.y + box.height / 2, { steps: 5 })
    await page.mouse.up()
    const request = new URL((await asked).url())
    const from = Date.parse(request.searchParams.get('from') ?? '')
    const to = Date.parse(request.searchParams.get('to') ?? '')
    assert.ok(to - from > 30_000 && to - from < 150_000, `a zoomed range of ${to - from} ms (a tenth of 15 min)`)
    assert.ok(Number(request.searchParams.get('buckets')) >= 1)
    assert.equal(new URL(page.url()).searchParams.get('range'), 'custom')
    // Asked again at the finer resolution (buckets of ~200 ms instead of ~2 s over 15 min), with data in them.
    await until(async () => {
      const m = /, ([1-9]\d*) buckets of (\d+) ms$/.exec((await status.textContent()) ?? '')
      return m !== null && Number(m[2]) < 1000
    }, 'the zoomed range drawn at the finer resolution')
    await shot(page, dir, '05-trends-zoomed')
    // Pan and zoom out with the buttons: the same range width, moved; then twice as wide.
    const panned = page.waitForRequest((r) => r.url().includes('/history?') && r.url().includes('buckets='))
    await page.getByRole('button', { name: '◀ Earlier' }).click()
    const p = new URL((await panned).url())
    assert.equal(Date.parse(p.searchParams.get('to') ?? ''), Math.round(to - (to - from) / 2))
  })

  await t.test('events: the live stream, pausable, filtered by a UNS pattern', async () => {
    await page.goto(`${base}/events`)
    const rows = page.locator('table.events tbody tr')
    await rows.first().waitFor()
    await page.getByRole('button', { name: 'Pause' }).click()
    // Once an event came after the pause (what came before may still be drawn), the table stays as it is.
    const paused = page.locator('.events-tools [role="status"]')
    await textMatching(paused, /^Paused: [1-9]\d* events? not shown/)
    const firstRow = await rows.first().textContent()
    const missed = Number(/(\d+)/.exec((await paused.textContent()) ?? '')?.[1])
    await until(async () => Number(/(\d+)/.exec((await paused.textContent()) ?? '')?.[1]) >= missed + 3, 'three more')
    assert.equal(await rows.first().textContent(), firstRow, 'nothing new is shown while paused')
    await page.getByRole('textbox', { name: 'UNS pattern' }).fill('Demofactory/Quality/#')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.getByRole('button', { name: 'Resume' }).click()
    await until(async () => (await rows.count()) >= 2, 'two events of the Quality area')
    const assetsShown = await page.locator('table.events tbody tr td:nth-child(2)').allTextContents()
    assert.deepEqual([...new Set(assetsShown)], ['DEMO-DHT-001'])
    await shot(page, dir, '06-events')
  })

  await t.test('services and health', async () => {
    await page.goto(`${base}/services`)
    await textMatching(page.locator('dl.health'), /Statusok \(HTTP 200\)/)
    const cnc = page.locator('table.connectors tr', { hasText: CNC })
    await textMatching(cnc, /AVAILABLE/)
    await textMatching(cnc, /15 s/)
    await textMatching(page.locator('table.metrics'), /assets in the state/)
    await shot(page, dir, '07-services')
  })

  await t.test('SQL: a pull query, a push query stopped by the user, a statement', async () => {
    await page.goto(`${base}/sql`)
    await textMatching(page.locator('main'), /ksqlDB-compatible API 0\.29\.0/)
    const text = page.getByRole('textbox', { name: 'Statement or query' })
    await text.fill('SELECT * FROM assets_avail;')
    await page.getByRole('button', { name: 'Run query' }).click()
    const table = page.locator('table.sql-rows')
    await textMatching(table, new RegExp(CNC))
    await textMatching(page.locator('#sql-result-heading + p'), /^Done: [3-9]\d* rows?/)
    await text.fill('SELECT asset_uuid, id, value FROM assets_stream EMIT CHANGES;')
    await page.getByRole('button', { name: 'Run query' }).click()
    await textMatching(page.locator('#sql-result-heading + p'), /^Running: ([3-9]|\d\d+) rows/)
    await page.getByRole('button', { name: 'Stop' }).click()
    await textMatching(page.locator('#sql-result-heading + p'), /^Done/)
    await shot(page, dir, '08-sql-push')
    await text.fill('SHOW TABLES;')
    await page.getByRole('button', { name: 'Run statement' }).click()
    await textMatching(page.locator('pre.sql-answer'), /"ASSETS_AVAIL"/)
    await shot(page, dir, '09-sql-statement')
  })

  await t.test('the overview page', async () => {
    await page.goto(`${base}/`)
    await textMatching(page.locator('.summary'), /3 assets/)
    await shot(page, dir, '10-overview')
  })

  await t.test('no console error and no Content-Security-Policy violation in the whole run', () => {
    assert.deepEqual(problems.all(), [])
  })
})

test('the dashboard with authentication: sign in with an API key made through the API, then out', {
  timeout: 600_000,
}, async (t) => {
  const demo = await startDemo(t, { auth: true })
  const made = await ofa(['auth', 'key', 'create', demo.dir, '--data', demo.data, '--json', '--role', 'admin'])
  assert.equal(made.code, 0, made.stderr)
  const admin = (JSON.parse(made.stdout) as { key: string }).key
  const browser = await launchChromium(t)
  const up = demo.start()
  const base = await up.url
  // The key the user signs in with, made by the admin through the API.
  const res = await fetch(`${base}/api/auth/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'dashboard operator', role: 'operator' }),
  })
  assert.equal(res.status, 201)
  const operator = ((await res.json()) as { key: string }).key
  const dir = await artifacts(t, 'auth')
  const { page, problems } = await openPage(browser)

  await t.test('the sign-in form shows; a wrong key is refused, the operator key signs in', async () => {
    await page.goto(`${base}/`)
    await page.getByRole('heading', { name: 'Sign in to OpenFactory' }).waitFor()
    await shot(page, dir, '01-sign-in')
    const field = page.getByLabel('API key or access token')
    await field.fill(`${operator.slice(0, -4)}0000`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await textMatching(page.getByRole('alert'), /OFA_AUTH_INVALID/)
    await field.fill(operator)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await textMatching(page.locator('.user'), /dashboard operator\s*operator/)
    await page.getByRole('treeitem', { name: /Demofactory/ }).waitFor()
    await shot(page, dir, '02-signed-in')
  })

  await t.test('signed in: live values over the WebSocket, a command as operator, SQL statements refused', async () => {
    await page.goto(`${base}/asset/${CNC}`) // a reload: the credential stays for the tab
    await textMatching(page.locator('.user'), /operator/)
    const first = await until(async () => {
      const v = await shownValue(page, 'spindle_speed')
      return /^\d/.test(v) ? v : undefined
    }, 'a spindle speed')
    await until(async () => (await shownValue(page, 'spindle_speed')) !== first, 'the spindle speed to change')
    const form = page.locator('form#method-SetSpeed')
    await form.getByRole('spinbutton', { name: /rpm/ }).fill('7100')
    await form.getByRole('button', { name: 'Send SetSpeed' }).click()
    await textMatching(form.locator('output'), /^Answer: completed/)
    await textMatching(page.locator('table.commands tbody tr').first(), /SetSpeed.*\{"rpm":7100\}.*completed/)
    await page.goto(`${base}/sql`)
    await page.getByRole('textbox', { name: 'Statement or query' }).fill('SHOW TABLES;')
    await page.getByRole('button', { name: 'Run statement' }).click()
    await textMatching(page.getByRole('alert'), /OFA_AUTH_FORBIDDEN|403/)
    await shot(page, dir, '03-operator')
  })

  await t.test('sign out: the form again, and the credential is gone from the tab', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to OpenFactory' }).waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.length), 0)
  })

  await t.test('no console error but the expected 401s, and no Content-Security-Policy violation', () => {
    // Chromium logs every 401 answer as an error: the first /api/auth/me and the wrong key's are expected.
    const unexpected = problems
      .all()
      .filter((p) => !/Failed to load resource: the server responded with a status of (401|403)/.test(p))
    assert.deepEqual(unexpected, [])
  })
})

test('10 000 assets: the tree holds them all and renders only the rows on screen; the WebSocket reconnects', {
  timeout: 300_000,
}, async (t) => {
  await ensureDashboard()
  const log = await createTestLog(t)
  const uuids = Array.from({ length: 10_000 }, (_, i) => `A-${String(i).padStart(5, '0')}`)
  const assetOf = (uuid: string, i: number): Asset => ({
    uuid,
    type: 'Device',
    uns: {
      levels: { inc: 'Plant', area: `Area${i % 10}`, workcenter: `WC${i % 100}`, asset: uuid },
      unsId: `Plant/Area${i % 10}/WC${i % 100}/${uuid}`,
    },
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [{ id: 'Temp', category: 'Samples', tag: 'Temperature', units: 'CELSIUS' }],
    methods: [],
  })
  const serving = await createTestServing(t, log)
  await log.append(
    TOPICS.registry,
    uuids.map((uuid, i) => ({ key: uuid, value: encodeAssetDeclaration(assetOf(uuid, i)) })),
  )
  // Two in three available (no TTL: they stay so).
  const up = encodeObservation(AssetEvents.availability({ available: true }).observation)
  await log.append(
    TOPICS.assets,
    uuids.filter((_, i) => i % 3 !== 0).map((uuid) => ({ key: uuid, value: up })),
  )
  let app = await createServeApp({ eventLog: log, serving, dashboardDir: DASHBOARD_DIST })
  t.after(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const base = `http://127.0.0.1:${port}`
  await until(async () => {
    const a = await getJson(`${base}/api/assets/A-09998`)
    return a.availability === 'AVAILABLE'
  }, 'the state to hold the 10 000 assets')
  const browser = await launchChromium(t)
  const dir = await artifacts(t, 'many')
  const { page, problems } = await openPage(browser)
  await page.goto(`${base}/`)
  await textMatching(page.locator('.tree-count'), /^10000 assets$/, 60_000)
  const plant = page.getByRole('treeitem', { name: /Plant/ })
  await textMatching(plant, /6666 of 10000 available/)
  // Open Area0 and its 10 work centres (1000 assets, 1000 + 20 rows), go to the last row, then up to the last asset.
  await page.getByRole('searchbox', { name: 'Search assets' }).focus()
  const press = async (key: string, expected: RegExp) => {
    await page.keyboard.press(key)
    await until(async () => expected.test((await focused(page)).text), `${key} to focus ${expected}`)
  }
  await press('Tab', /Plant/)
  await press('ArrowDown', /Area0/)
  await page.keyboard.press('ArrowRight')
  await until(
    async () => (await page.getByRole('treeitem', { name: /Area0/ }).getAttribute('aria-expanded')) === 'true',
    'Area0 open',
  )
  await press('ArrowDown', /^WC0$/)
  await page.keyboard.press('*') // every work centre of Area0 open
  // 1 + 10 areas + 10 work centres + 1000 assets rows of 28 px: the tree's height (most rows are not rendered).
  await until(
    async () => (await page.getByRole('tree').evaluate((el) => el.style.height)) === `${1021 * 28}px`,
    '* to open the work centres of Area0',
  )
  await press('End', /Area9/)
  for (let i = 8; i >= 1; i--) await press('ArrowUp', new RegExp(`Area${i}`))
  await press('ArrowUp', /A-09990/)
  const rendered = await page.getByRole('treeitem').count()
  assert.ok(rendered < 120, `${rendered} rows in the document (only those on screen and a margin)`)
  const last = page.getByRole('treeitem', { name: /A-09990/ })
  assert.equal(await last.getAttribute('aria-level'), '4')
  assert.equal(await last.getAttribute('aria-setsize'), '100')
  assert.equal(await last.getAttribute('aria-posinset'), '100')
  await shot(page, dir, '01-tree-end')
  await page.getByRole('searchbox', { name: 'Search assets' }).fill('A-04321')
  await textMatching(page.locator('.tree-count'), /^1 matching asset$/)
  await page.getByRole('treeitem', { name: /A-04321/ }).click()
  await page.waitForURL(`${base}/asset/A-04321`)
  await textMatching(page.getByRole('heading', { level: 1 }), /^A-04321$/)
  await shot(page, dir, '02-search')

  // The server goes away and comes back on the same port: the page's one WebSocket reconnects and subscribes again,
  // and an availability that changed meanwhile shows in the tree.
  await app.close()
  await textMatching(page.locator('.live-status'), /^live: reconnecting$/)
  const down = encodeObservation(AssetEvents.availability({ available: false }).observation)
  await log.append(TOPICS.assets, [{ key: 'A-00001', value: down }])
  app = await createServeApp({ eventLog: log, serving, dashboardDir: DASHBOARD_DIST })
  await app.listen({ port, host: '127.0.0.1' })
  await textMatching(page.locator('.live-status'), /^live$/)
  await textMatching(page.getByRole('treeitem', { name: /Plant/ }), /6665 of 10000 available/)
  // Chromium reports the refused connections of the reconnection attempts while the server was away.
  const unexpected = problems.all().filter((p) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(p))
  assert.deepEqual(unexpected, [])
})
