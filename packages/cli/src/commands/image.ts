/**
 * `ofa image build [--tag NAME[:TAG]]... [--docker-host HOST]`: the project's own image (Node 24 and the app), built
 * from this repository with no base image and no registry (see image/build-image.ts). Progress goes to stderr; the
 * image id and its tags to stdout.
 */
import { parseArgs } from 'node:util'
import { buildImage } from '../image/build-image.ts'
import { type CliIo, EXIT } from '../io.ts'
import { usageError } from '../usage.ts'

/** `[host[:port]/]path[:tag]`, docker's image reference without a digest (lower-case path components). */
const REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::\w[\w.-]{0,127})?$/

export async function imageCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (sub !== 'build') {
    throw usageError(
      sub === undefined ? 'ofa image needs a subcommand: build' : `unknown ofa image subcommand "${sub}"`,
    )
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      tag: { type: 'string', multiple: true },
      'docker-host': { type: 'string' },
    },
    allowPositionals: true,
  })
  if (positionals.length > 0) throw usageError(`ofa image build takes no arguments, got "${positionals[0]}"`)
  for (const tag of values.tag ?? []) {
    if (!REFERENCE.test(tag)) throw usageError(`--tag ${tag}: not an image name (NAME[:TAG], lower case)`)
  }
  let result: Awaited<ReturnType<typeof buildImage>>
  try {
    result = await buildImage({
      tags: values.tag,
      dockerHost: values['docker-host'],
      env: { ...process.env, ...io.env },
      progress: (line) => io.stderr.write(`${line}\n`),
      signal: io.signal,
    })
  } catch (err) {
    if (!io.signal.aborted) throw err
    io.stderr.write('ofa image build: interrupted before the end\n')
    return EXIT.failed
  }
  io.stdout.write(`${result.id} ${result.tags.join(' ')}\n`)
  return EXIT.ok
}
