// The oven factory of the end-to-end alerts tests (fixtures/oven-factory), copied into a temporary folder with the
// test's apps file: `ofa up` on it, then SetTemp heats or cools the oven.
import { cp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../../cli/test/helpers.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/oven-factory/', import.meta.url))

/** A copy of the oven factory with `apps` as its apps.yml: the factory folder and a data folder beside it. */
export async function ovenFactory(t: TestContext, apps: string): Promise<{ factory: string; data: string }> {
  const dir = await tempDir(t, 'ofa-oven-')
  const factory = join(dir, 'factory')
  await cp(FIXTURE, factory, { recursive: true })
  await writeFile(join(factory, 'apps.yml'), apps)
  return { factory, data: join(dir, 'data') }
}
