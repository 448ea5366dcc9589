import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { validateFactory } from '@openfactory/model'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { usageError } from '../usage.ts'

/** `ofa validate [--uns FILE] PATH...`: every problem of every file, one per line, then a summary. */
export async function validateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { uns: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length === 0) throw usageError('ofa validate needs at least one file or folder')
  const paths = positionals.map((p) => resolve(io.cwd, p))
  const { factory, problems } = await validateFactory(paths, {
    uns: values.uns === undefined ? undefined : resolve(io.cwd, values.uns),
    env: io.env,
    cwd: io.cwd,
  })
  for (const p of problems) io.stderr.write(`${p.format()}\n`)
  const files = factory.files.length
  if (problems.length > 0) {
    io.stderr.write(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}\n`,
    )
    return EXIT.failed
  }
  io.stdout.write(
    `valid: ${files} file${files === 1 ? '' : 's'}, ${factory.devices.length} device${factory.devices.length === 1 ? '' : 's'}, ${factory.apps.length} app${factory.apps.length === 1 ? '' : 's'}\n`,
  )
  return EXIT.ok
}
