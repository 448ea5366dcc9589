/**
 * `ofa image build`: the project's own image, built with no base image and no registry. The root filesystem
 * (root-filesystem.ts) is written as a tar stream (tar-writer.ts) straight into `docker import` (import-image.ts),
 * with the entrypoint `/usr/bin/node ... /app/packages/cli/bin/ofa.js`, the working directory /data and labels;
 * then tagged.
 *
 * The tar stream's SHA-256 is the image's content hash, kept as the label `org.openfactory.content-hash`: when an
 * image of the engine has that label already, it is tagged and nothing is imported (a rebuild of an unchanged app
 * costs the hash, about a second).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createDockerClient } from './docker-client.ts'
import { importImage, mb, seconds } from './import-image.ts'
import { ensureDashboardBuilt, IMAGE_LAYOUT, planRootFilesystem } from './root-filesystem.ts'

export { CONTENT_HASH_LABEL } from './import-image.ts'
export const IMAGE_REPOSITORY = 'openfactory/ofa'
/** The repository this file is part of: the app the image holds. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '')

export interface ImageBuildOptions {
  /** The repository to build from (default: the one this file is in). */
  readonly root?: string
  /** Names for the image; default `<repository>:<version>` and `<repository>:latest`. */
  readonly tags?: readonly string[]
  /** DOCKER_HOST for the docker commands (default: the environment's). */
  readonly dockerHost?: string
  /** The environment the build's commands (`docker`, `ldd`, `npm`, `jlink`...) run with. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** One line of progress at a time (for the terminal). */
  readonly progress?: (line: string) => void
  readonly signal?: AbortSignal
}

/** What every image build gives. */
export interface BuiltImage {
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
}

export interface ImageBuildResult extends BuiltImage {
  readonly nodeVersion: string
  readonly version: string
}

/** The default tags: `openfactory/ofa:<version>` and `openfactory/ofa:latest`. */
export function defaultTags(root = REPOSITORY_ROOT): string[] {
  const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }
  return [`${IMAGE_REPOSITORY}:${version}`, `${IMAGE_REPOSITORY}:latest`]
}

export async function buildImage(options: ImageBuildOptions): Promise<ImageBuildResult> {
  const root = options.root ?? REPOSITORY_ROOT
  const progress = options.progress ?? (() => {})
  const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }
  const tags = options.tags?.length ? [...options.tags] : defaultTags(root)
  const started = Date.now()
  const docker = createDockerClient({ host: options.dockerHost, env: options.env, signal: options.signal })
  const engine = await docker.serverVersion()
  progress(`docker engine ${engine} at ${docker.where}`)

  if (await ensureDashboardBuilt(root, options.env)) progress('dashboard built (packages/dashboard/dist was missing)')
  const rootfs = await planRootFilesystem({ root, env: options.env })
  progress(
    `root filesystem: node ${rootfs.nodeVersion} and ${rootfs.libraries.length} shared libraries, ${rootfs.workspaces.length} workspace packages, ${rootfs.dependencies} npm packages (production); ${rootfs.files} files, ${mb(rootfs.bytes)}`,
  )
  const { id, contentHash, built, size } = await importImage({
    docker,
    entries: rootfs.entries,
    bytes: rootfs.bytes,
    tags,
    changes: [
      `ENTRYPOINT ${JSON.stringify([IMAGE_LAYOUT.node, '--max-semi-space-size=8', IMAGE_LAYOUT.cli])}`,
      `WORKDIR ${IMAGE_LAYOUT.workdir}`,
      `LABEL org.opencontainers.image.title=ofa org.opencontainers.image.version=${version}`,
    ],
    progress,
  })
  progress(`${tags.join(', ')}: ${id}, ${mb(size)}, ${built ? 'built' : 'unchanged'} in ${seconds(started)}`)
  return { id, tags, contentHash, built, size, files: rootfs.files, nodeVersion: rootfs.nodeVersion, version }
}
