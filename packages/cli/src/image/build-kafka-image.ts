/**
 * `ofa image build --kafka`: an Apache Kafka broker image, built like our own (build-image.ts) with no base image
 * and no registry, so that a stack can run its own backbone (deploy/kafka-service.ts). The root filesystem
 * (kafka-root-filesystem.ts: a jlink'd Java runtime, the broker's jars, KafkaEntrypoint) is imported by
 * import-image.ts; an unchanged build is only tagged.
 *
 * The image runs one KRaft node, broker and controller, on the host network: PLAINTEXT on KAFKA_PORT, the
 * controller on KAFKA_CONTROLLER_PORT, at KAFKA_HOST (see KafkaEntrypoint.java); its data in /var/lib/kafka, where
 * the service mounts a named volume. The storage is formatted on the first start, so a restarted task keeps its
 * data and its cluster id.
 */

import { type BuiltImage, type ImageBuildOptions, REPOSITORY_ROOT } from './build-image.ts'
import { createDockerClient } from './docker-client.ts'
import { importImage, mb, seconds } from './import-image.ts'
import { KAFKA_IMAGE_LAYOUT, planKafkaRootFilesystem } from './kafka-root-filesystem.ts'

export const KAFKA_IMAGE_REPOSITORY = 'openfactory/kafka'

export interface KafkaImageBuildResult extends BuiltImage {
  readonly kafkaVersion: string
  readonly javaVersion: string
}

export async function buildKafkaImage(options: ImageBuildOptions): Promise<KafkaImageBuildResult> {
  const root = options.root ?? REPOSITORY_ROOT
  const progress = options.progress ?? (() => {})
  const started = Date.now()
  const docker = createDockerClient({ host: options.dockerHost, env: options.env, signal: options.signal })
  const engine = await docker.serverVersion()
  progress(`docker engine ${engine} at ${docker.where}`)

  const rootfs = await planKafkaRootFilesystem({ root, env: options.env })
  const tags = options.tags?.length
    ? [...options.tags]
    : [`${KAFKA_IMAGE_REPOSITORY}:${rootfs.kafkaVersion}`, `${KAFKA_IMAGE_REPOSITORY}:latest`]
  progress(
    `root filesystem: Kafka ${rootfs.kafkaVersion} (${rootfs.jars} jars), a Java ${rootfs.javaVersion} runtime made by jlink and ${rootfs.libraries.length} shared libraries; ${rootfs.files} files, ${mb(rootfs.bytes)} (made in ${seconds(started)})`,
  )
  const { id, contentHash, built, size } = await importImage({
    docker,
    entries: rootfs.entries,
    bytes: rootfs.bytes,
    tags,
    changes: [
      `ENTRYPOINT ${JSON.stringify(rootfs.entrypoint)}`,
      `WORKDIR ${KAFKA_IMAGE_LAYOUT.home}`,
      `LABEL org.opencontainers.image.title=kafka org.opencontainers.image.version=${rootfs.kafkaVersion}`,
    ],
    progress,
  })
  progress(`${tags.join(', ')}: ${id}, ${mb(size)}, ${built ? 'built' : 'unchanged'} in ${seconds(started)}`)
  return {
    id,
    tags,
    contentHash,
    built,
    size,
    files: rootfs.files,
    kafkaVersion: rootfs.kafkaVersion,
    javaVersion: rootfs.javaVersion,
  }
}
