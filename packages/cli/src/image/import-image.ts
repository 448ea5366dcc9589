/**
 * The last step of each image we build with no base image and no registry (`ofa image build`, and `--kafka`): a
 * planned root filesystem becomes an image of the engine by `docker import` of its tar stream (tar-writer.ts), with
 * the image's configuration as `--change` instructions, then gets its tags.
 *
 * The tar stream is deterministic (owner root, time stamps 0, members sorted), so its SHA-256 is the image's
 * content hash. It is computed first and kept as the label `org.openfactory.content-hash`: when an image of the
 * engine has that label already, it is tagged and nothing is imported (an unchanged rebuild costs the hash). An
 * image of ours that loses its last tag to the new one is removed (no dangling copies of a 100 MB image), unless a
 * container uses it.
 */
import { createHash } from 'node:crypto'
import { OpenFactoryError } from '@openfactory/model'
import type { DockerClient } from './docker-client.ts'
import { type TarEntry, writeTar } from './tar-writer.ts'

export const CONTENT_HASH_LABEL = 'org.openfactory.content-hash'

export interface ImportImageOptions {
  readonly docker: DockerClient
  /** The root filesystem, parents before children, sorted by path. */
  readonly entries: readonly TarEntry[]
  /** The files' bytes (for progress). */
  readonly bytes: number
  /** Names for the image; the first is given at import, the others after. */
  readonly tags: readonly string[]
  /** Dockerfile instructions for `docker import --change` (ENTRYPOINT, WORKDIR, LABEL); the hash label is added. */
  readonly changes: readonly string[]
  readonly progress: (line: string) => void
}

export interface ImportedImage {
  /** `sha256:...` of the image. */
  readonly id: string
  /** `sha256:...` of the root filesystem's tar stream. */
  readonly contentHash: string
  /** False when an image with the same content was there and only tagged. */
  readonly built: boolean
  /** The image's size as docker reports it, in bytes. */
  readonly size: number
}

export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
export const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`

export async function importImage(options: ImportImageOptions): Promise<ImportedImage> {
  const { docker, entries, tags, progress } = options
  const hashing = Date.now()
  const hash = createHash('sha256')
  await writeTar(entries, (chunk) => {
    hash.update(chunk)
  })
  const contentHash = `sha256:${hash.digest('hex')}`
  progress(`content ${contentHash} (hashed in ${seconds(hashing)})`)

  const same = await docker.runOrThrow(
    ['image', 'ls', '--quiet', '--no-trunc', '--filter', `label=${CONTENT_HASH_LABEL}=${contentHash}`],
    'OFA_IMAGE_BUILD',
    'cannot list images',
  )
  // The images the tags name now: one of ours that loses its last tag is removed below.
  const previous = new Set<string>()
  for (const tag of tags) {
    const r = await docker.run(['image', 'inspect', '--format', '{{.Id}}', tag])
    if (r.code === 0) previous.add(r.stdout.trim())
  }
  let id = same.split('\n').find((l) => l.trim() !== '')
  const built = id === undefined
  if (id === undefined) {
    const importing = Date.now()
    const changes = [...options.changes, `LABEL ${CONTENT_HASH_LABEL}=${contentHash}`]
    progress(`importing ${mb(options.bytes)} into docker as ${tags[0]} ...`)
    const input = docker.start(['import', ...changes.flatMap((c) => ['--change', c]), '-', tags[0]!])
    let sent = 0
    let reported = Date.now()
    let failure: unknown
    try {
      await writeTar(entries, async (chunk) => {
        await input.write(chunk)
        sent += chunk.length
        if (Date.now() - reported > 5000) {
          reported = Date.now()
          progress(`  sent ${mb(sent)}`)
        }
      })
    } catch (err) {
      failure = err
    }
    // Half a tar stream must not become an image: on a failure docker is killed before its input ends.
    const r = failure === undefined ? await input.end() : await input.abort()
    if (failure !== undefined || r.code !== 0) {
      const why = r.stderr.trim() || (failure instanceof Error ? failure.message : String(failure))
      if (/Cannot connect to the Docker daemon|error during connect/i.test(why)) {
        throw new OpenFactoryError('OFA_DOCKER_UNREACHABLE', `no Docker engine answers at ${docker.where}: ${why}`)
      }
      throw new OpenFactoryError('OFA_IMAGE_BUILD', `docker import failed: ${why}`, { cause: failure })
    }
    id = r.stdout.trim().split('\n').pop()!
    progress(`imported ${id} in ${seconds(importing)}`)
  } else {
    progress(`unchanged: image ${id} has this content already; tagging it`)
  }
  for (const tag of built ? tags.slice(1) : tags) {
    await docker.runOrThrow(['tag', id, tag], 'OFA_IMAGE_BUILD', `cannot tag ${id} as ${tag}`)
  }
  for (const old of previous) {
    if (old === id) continue
    const r = await docker.run([
      'image',
      'inspect',
      '--format',
      `{{len .RepoTags}} {{index .Config.Labels "${CONTENT_HASH_LABEL}"}}`,
      old,
    ])
    const [count, label] = r.stdout.trim().split(' ')
    // In use by a container (a service still runs it), it stays: docker refuses, and that is fine.
    if (
      r.code === 0 &&
      count === '0' &&
      label?.startsWith('sha256:') &&
      (await docker.run(['image', 'rm', old])).code === 0
    ) {
      progress(`removed the previous image ${old}, no longer tagged`)
    }
  }
  const size = Number(
    (
      await docker.runOrThrow(['image', 'inspect', '--format', '{{.Size}}', id], 'OFA_IMAGE_BUILD', 'cannot inspect')
    ).trim(),
  )
  return { id, contentHash, built, size }
}
