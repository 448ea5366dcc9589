// The image's root filesystem as planned from this repository (no Docker needed): the dashboard's workspace is in it
// with its built dist/ (the serving app of a swarm serves it), and no workspace's tests are.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ensureDashboard } from '@openfactory/dashboard'
import { REPOSITORY_ROOT } from '../../src/image/build-image.ts'
import { planRootFilesystem } from '../../src/image/root-filesystem.ts'

test('the root filesystem holds the built dashboard and no tests', { timeout: 120_000 }, async () => {
  await ensureDashboard()
  const plan = await planRootFilesystem({ root: REPOSITORY_ROOT, env: process.env })
  const paths = new Set(plan.entries.map((e) => e.path))
  assert.ok(plan.workspaces.includes('packages/dashboard'))
  assert.ok(paths.has('app/packages/dashboard/dist/index.html'), 'the built index.html')
  assert.ok(
    [...paths].some((p) => /^app\/packages\/dashboard\/dist\/static\/index-[\w-]+\.js$/.test(p)),
    'the built script',
  )
  assert.ok(paths.has('app/packages/dashboard/src/index.ts'), 'its Node side (DASHBOARD_DIST)')
  assert.ok(paths.has('app/node_modules/@openfactory/dashboard'), 'the workspace link the CLI imports it by')
  assert.ok(![...paths].some((p) => /^app\/packages\/[^/]+\/test\//.test(p)), 'no tests')
})
