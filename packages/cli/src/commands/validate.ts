import { relative, resolve } from 'node:path'
import '../connector-types.ts'
import { parseArgs } from 'node:util'
import '../app-kinds.ts'
import { checkAppKinds, checkConnectorConfigs } from '@openfactory/connectors'
import { SKIP_MARKER, validateFactory } from '@openfactory/model'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { usageError } from '../usage.ts'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * `ofa validate [--uns FILE] PATH...`: every problem of every file, one per line, then a summary. Warnings and
 * the folders skipped (they hold a `.ofa-skip` file) are printed too, and do not change the exit code. Devices'
 * connector blocks are also checked by their connector's spec, as `ofa up` checks them (a Devices.xml is read:
 * its problems fail, what it reads past — a duplicate component id — is a warning).
 * Ctrl-C (`io.signal`) stops a long validation: it says it was interrupted and exits with status 1.
 */
export async function validateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { uns: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length === 0) throw usageError('ofa validate needs at least one file or folder')
  const paths = positionals.map((p) => resolve(io.cwd, p))
  let result: Awaited<ReturnType<typeof validateFactory>>
  try {
    result = await validateFactory(paths, {
      uns: values.uns === undefined ? undefined : resolve(io.cwd, values.uns),
      env: io.env,
      cwd: io.cwd,
      signal: io.signal,
    })
  } catch (err) {
    if (!io.signal.aborted) throw err
    io.stderr.write('ofa validate: interrupted before the end; the factory was not fully checked\n')
    return EXIT.failed
  }
  const { factory, problems: configProblems, skipped } = result
  const warnings = [...result.warnings]
  const problems = [
    ...configProblems,
    ...checkConnectorConfigs(factory.devices, { onWarning: (w) => warnings.push(w) }),
    ...checkAppKinds(factory.apps),
  ]
  for (const dir of skipped)
    io.stderr.write(`skipped ${relative(io.cwd, dir) || '.'}: it holds a ${SKIP_MARKER} file\n`)
  for (const p of problems) io.stderr.write(`${p.format()}\n`)
  for (const w of warnings) io.stderr.write(`${w.format()}\n`)
  const files = plural(factory.files.length, 'file')
  const warned = warnings.length > 0 ? `, ${plural(warnings.length, 'warning')}` : ''
  if (problems.length > 0) {
    io.stderr.write(`${plural(problems.length, 'problem')} in ${files}${warned}\n`)
    return EXIT.failed
  }
  io.stdout.write(
    `valid: ${files}, ${plural(factory.devices.length, 'device')}, ${plural(factory.apps.length, 'app')}${warned}\n`,
  )
  return EXIT.ok
}
