import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { OpenFactoryError } from '../../src/errors.ts'

/** The repository root (examples/ and docs/ live there). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
export const EXAMPLES = join(ROOT, 'examples')
export const EXAMPLE_UNS = join(EXAMPLES, 'uns/uns_schema.yml')

/** The demo UNS schema, as text, for tests that write their own factory folders. */
export const UNS_SCHEMA = `namespace_structure:
  - inc: Demofactory
  - area: [Machining, Assembly, Quality]
  - workcenter: ANY
  - station: ANY
  - asset: ANY
  - attribute: ANY
uns_template: inc/area/workcenter/station/asset/attribute
`

/** A temporary folder holding `files` (name → text); removed after the test. */
export async function tmpFactory(t: TestContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) {
    const p = join(dir, name)
    await mkdir(dirname(p), { recursive: true })
    await writeFile(p, text)
  }
  return dir
}

/** Problems in a compact form tests can compare: `file:line:column CODE path`. */
export function brief(problems: readonly OpenFactoryError[]): string[] {
  return problems.map((p) =>
    `${p.where?.file}:${p.where?.line}:${p.where?.column} ${p.code} ${p.where?.path ?? ''}`.trim(),
  )
}

/**
 * A device file with `n` devices of mixed connector types (opcua, shdr, simulator, external mtconnect agent),
 * numbered from `from`; with `bad`, each device also has an unknown field (a problem to place).
 */
export function devicesYaml(n: number, opts: { from?: number; bad?: boolean } = {}): string {
  const from = opts.from ?? 0
  let s = 'devices:\n'
  for (let i = from; i < from + n; i++) {
    const ip = `${(i >> 8) & 255}.${i & 255}`
    s += `  dev-${i}:\n    uuid: DEV-${i}\n`
    if (opts.bad) s += '    colour: red\n'
    switch (i % 4) {
      case 0:
        s += `    connector:\n      type: opcua\n      server: {uri: opc.tcp://10.0.${ip}:4840}\n      variables:\n        temp: {node_id: ns=2;i=${i}, tag: Temperature}\n`
        break
      case 1:
        s += `    connector:\n      type: shdr\n      host: 10.1.${ip}\n      port: 7878\n      data:\n        exec: {tag: Execution, type: Events}\n`
        break
      case 2:
        s += '    connector:\n      type: simulator\n'
        break
      default:
        s += `    connector:\n      type: mtconnect\n      agent: {ip: 10.2.${ip}, port: 5000}\n`
    }
  }
  return s
}
