/**
 * `ofa image build`: the project's own image, built with no base image and no registry. The root filesystem
 * (root-filesystem.ts) is written as a tar stream (tar-writer.ts) straight into `docker import`, with the
 * entrypoint `/usr/bin/node ... /app/packages/cli/bin/ofa.js`, the working directory /data and labels; then tagged.
 *
 * The tar stream is deterministic (owner root, time stamps 0, members sorted), so its SHA-256 is the image's
 * content hash. It is computed first and kept as the label `org.openfactory.content-hash`: when an image of the
 * engine has that label already, it is tagged and nothing is imported (a rebuild of an unchanged app costs the
 * hash, about a second).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { OpenFactoryError } from '@openfactory/model'
import { createDockerClient } from './docker-client.ts'
import { IMAGE_LAYOUT, planRootFilesystem } from './root-filesystem.ts'
import { writeTar } from './tar-writer.ts'

export const CONTENT_HASH_LABEL = 'org.openfactory.content-hash'
export const IMAGE_REPOSITORY = 'openfactory/ofa'
/** The repository this file is part of: the app the image holds. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '')

export interface ImageBuildOptions {
  /** The repository to take the app from (default: the one this file is in). */
  readonly root?: string
  /** Names for the image; default `openfactory/ofa:<version of the root package.json>` and `openfactory/ofa:latest`. */
  readonly tags?: readonly string[]
  /** DOCKER_HOST for the docker commands (default: the environment's). */
  readonly dockerHost?: string
  /** The environment `docker`, `ldd` and `npm` run with. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** One line of progress at a time (for the terminal). */
  readonly progress?: (line: string) => void
  readonly signal?: AbortSignal
}

export interface ImageBuildResult {
  /** `sha256:...` of the image. */
  readonly id: string
  readonly tags: readonly string[]
  /** `sha256:...` of the root filesystem's tar stream. */
  readonly contentHash: string
  /** False when an image with the same content was there and only tagged. */
  readonly built: boolean
  /** The image's size as docker reports it, in bytes. */
  readonly size: number
  readonly files: number
  readonly nodeVersion: string
  readonly version: string
}

/** The default tags: `openfactory/ofa:<version>` and `openfactory/ofa:latest`. */
export function defaultTags(root = REPOSITORY_ROOT): string[] {
  const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }
  return [`${IMAGE_REPOSITORY}:${version}`, `${IMAGE_REPOSITORY}:latest`]
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`

export async function buildImage(options: ImageBuildOptions): Promise<ImageBuildResult> {
  const root = options.root ?? REPOSITORY_ROOT
  const progress = options.progress ?? (() => {})
  const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }
  const tags = options.tags?.length ? [...options.tags] : defaultTags(root)
  const started = Date.now()
  const docker = createDockerClient({ host: options.dockerHost, env: options.env, signal: options.signal })
  const engine = await docker.serverVersion()
  progress(`docker engine ${engine} at ${docker.where}`)

  const rootfs = await planRootFilesystem({ root, env: options.env })
  progress(
    `root filesystem: node ${rootfs.nodeVersion} and ${rootfs.libraries.length} shared libraries, ${rootfs.workspaces.length} workspace packages, ${rootfs.dependencies} npm packages (production); ${rootfs.files} files, ${mb(rootfs.bytes)}`,
  )
  const hashing = Date.now()
  const hash = createHash('sha256')
  await writeTar(rootfs.entries, (chunk) => {
    hash.update(chunk)
  })
  const contentHash = `sha256:${hash.digest('hex')}`
  progress(`content ${contentHash} (hashed in ${seconds(hashing)})`)

  const same = await docker.runOrThrow(
    ['image', 'ls', '--quiet', '--no-trunc', '--filter', `label=${CONTENT_HASH_LABEL}=${contentHash}`],
    'OFA_IMAGE_BUILD',
    'cannot list images',
  )
  // The images the tags name now: one of ours that loses its last tag is removed below (no dangling 200 MB).
  const previous = new Set<string>()
  for (const tag of tags) {
    const r = await docker.run(['image', 'inspect', '--format', '{{.Id}}', tag])
    if (r.code === 0) previous.add(r.stdout.trim())
  }
  let id = same.split('\n').find((l) => l.trim() !== '')
  const built = id === undefined
  if (id === undefined) {
    const importing = Date.now()
    const changes = [
      `ENTRYPOINT ${JSON.stringify([IMAGE_LAYOUT.node, '--max-semi-space-size=8', IMAGE_LAYOUT.cli])}`,
      `WORKDIR ${IMAGE_LAYOUT.workdir}`,
      `LABEL ${CONTENT_HASH_LABEL}=${contentHash}`,
      `LABEL org.opencontainers.image.title=ofa org.opencontainers.image.version=${version}`,
    ]
    progress(`importing ${mb(rootfs.bytes)} into docker as ${tags[0]} ...`)
    const input = docker.start(['import', ...changes.flatMap((c) => ['--change', c]), '-', tags[0]!])
    let sent = 0
    let reported = Date.now()
    let failure: unknown
    try {
      await writeTar(rootfs.entries, async (chunk) => {
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
  progress(`${tags.join(', ')}: ${id}, ${mb(size)}, ${built ? 'built' : 'unchanged'} in ${seconds(started)}`)
  return { id, tags, contentHash, built, size, files: rootfs.files, nodeVersion: rootfs.nodeVersion, version }
}
