/**
 * `ofa image build [--kafka] [--tag NAME[:TAG]]... [--docker-host HOST]`: the project's own image (Node 24 and the
 * app), or with --kafka the Kafka broker image a stack can run as its backbone, built from this repository with no
 * base image and no registry (see image/build-image.ts, image/build-kafka-image.ts). Progress goes to stderr; the
 * image id and its tags to stdout.
 */
import { parseArgs } from 'node:util'
import { buildImage } from '../image/build-image.ts'
import { buildKafkaImage } from '../image/build-kafka-image.ts'
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
      kafka: { type: 'boolean' },
      'docker-host': { type: 'string' },
    },
    allowPositionals: true,
  })
  if (positionals.length > 0) throw usageError(`ofa image build takes no arguments, got "${positionals[0]}"`)
  for (const tag of values.tag ?? []) {
    if (!REFERENCE.test(tag)) throw usageError(`--tag ${tag}: not an image name (NAME[:TAG], lower case)`)
  }
  let result: { readonly id: string; readonly tags: readonly string[] }
  const options = {
    tags: values.tag,
    dockerHost: values['docker-host'],
    env: { ...process.env, ...io.env },
    progress: (line: string) => io.stderr.write(`${line}\n`),
    signal: io.signal,
  }
  try {
    result = values.kafka ? await buildKafkaImage(options) : await buildImage(options)
  } catch (err) {
    if (!io.signal.aborted) throw err
    io.stderr.write('ofa image build: interrupted before the end\n')
    return EXIT.failed
  }
  io.stdout.write(`${result.id} ${result.tags.join(' ')}\n`)
  return EXIT.ok
}
