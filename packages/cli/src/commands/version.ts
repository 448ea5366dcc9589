import { readFileSync } from 'node:fs'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { usageError } from '../usage.ts'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

export async function versionCommand(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length > 0) throw usageError(`ofa version takes no arguments, got "${args[0]}"`)
  io.stdout.write(`ofa ${pkg.version} (node ${process.versions.node})\n`)
  return EXIT.ok
}
