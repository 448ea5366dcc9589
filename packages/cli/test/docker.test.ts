// `ofa image build` on a real Docker engine (scripts/docker's dockerd, a single-node swarm; see docker-engine.ts):
// the image builds with no base image and no registry, runs `ofa version` on Node 24, re-builds of an unchanged app
// only re-tag, and runs as a swarm service (`ofa up` of a small factory, healthy by its healthcheck). Each test
// removes the tags and stacks it made; the engine and its swarm stay.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { docker, dockerHost, dockerOk } from './docker-engine.ts'
import { eventually, freePort, getJson, ofa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const RUN = randomBytes(4).toString('hex')
/** Our own names, so that the images a developer built (openfactory/ofa:*) are left alone. */
const TAG = `ofa-test/ofa:${RUN}`
const TAG2 = `ofa-test/ofa:${RUN}-again`

let image: Promise<string> | undefined
/** Builds the image under TAG once for the file's tests; returns its id. */
function builtImage(): Promise<string> {
  image ??= (async () => {
    const r = await ofa(['image', 'build', '--tag', TAG, '--docker-host', await dockerHost()])
    assert.equal(r.code, 0, r.stderr)
    return /^(sha256:[0-9a-f]{64}) /.exec(r.stdout)![1]!
  })()
  return image
}

after(async () => {
  if (image) await docker(['image', 'rm', TAG, TAG2])
})

test('ofa image build builds the image, then only re-tags it while the app is unchanged', {
  timeout: 300_000,
}, async () => {
  const host = await dockerHost()
  const first = await ofa(['image', 'build', '--tag', TAG, '--docker-host', host])
  assert.equal(first.code, 0, first.stderr)
  image = Promise.resolve(/^(sha256:[0-9a-f]{64}) /.exec(first.stdout)![1]!)
  const id = await image
  assert.equal(first.stdout, `${id} ${TAG}\n`)
  assert.match(first.stderr, /^docker engine \S+ at DOCKER_HOST=/m)
  assert.match(first.stderr, /^root filesystem: node 24\.\d+\.\d+ and \d+ shared libraries, \d+ workspace packages/m)
  // A developer's own build of the same tree may be there already: then this one only tags it too.
  assert.match(first.stderr, /^(imported sha256:|unchanged: image sha256:)/m)

  const config = JSON.parse(await dockerOk(['image', 'inspect', '--format', '{{json .Config}}', TAG])) as {
    Entrypoint: string[]
    WorkingDir: string
    Labels: Record<string, string>
  }
  assert.deepEqual(config.Entrypoint, ['/usr/bin/node', '--max-semi-space-size=8', '/app/packages/cli/bin/ofa.js'])
  assert.equal(config.WorkingDir, '/data')
  assert.match(config.Labels['org.openfactory.content-hash'] ?? '', /^sha256:[0-9a-f]{64}$/)
  assert.equal(config.Labels['org.opencontainers.image.version'], VERSION)

  const started = Date.now()
  const again = await ofa(['image', 'build', '--tag', TAG2, '--docker-host', host])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(again.stdout, `${id} ${TAG2}\n`)
  assert.match(again.stderr, /^unchanged: image sha256:/m)
  assert.ok(Date.now() - started < 30_000, `an unchanged rebuild took ${Date.now() - started} ms`)
})

test('the image runs ofa version on Node 24', { timeout: 300_000 }, async () => {
  await builtImage()
  const out = await dockerOk(['run', '--rm', '--network', 'host', TAG, 'version'])
  assert.match(out, new RegExp(`^ofa ${VERSION.replaceAll('.', '\\.')} \\(node 24\\.\\d+\\.\\d+\\)\\n$`))
})

test('a one-service stack of the image (ofa up of a small factory) becomes healthy, then is removed', {
  timeout: 300_000,
}, async (t) => {
  await builtImage()
  const dir = await tempDir(t, 'ofa-stack-')
  const factory = join(dir, 'factory')
  await mkdir(factory)
  await writeFile(
    join(factory, 'devices.yml'),
    ['devices:', '  robot:', '    uuid: ROBOT-1', '    connector: {type: simulator}', ''].join('\n'),
  )
  const port = await freePort()
  const healthcheck = `fetch('http://127.0.0.1:${port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`
  // Compose is a superset of JSON's YAML: the file is written as JSON.
  const compose = {
    version: '3.8',
    services: {
      ofa: {
        image: TAG,
        command: ['up', '/factory', '--host', '127.0.0.1', '--port', String(port)],
        volumes: [{ type: 'bind', source: factory, target: '/factory', read_only: true }],
        networks: ['hostnet'],
        healthcheck: {
          test: ['CMD', '/usr/bin/node', '-e', healthcheck],
          interval: '1s',
          timeout: '5s',
          retries: 3,
          start_period: '60s',
        },
        deploy: { replicas: 1, restart_policy: { condition: 'on-failure' } },
      },
    },
    networks: { hostnet: { external: true, name: 'host' } },
  }
  const file = join(dir, 'stack.yml')
  await writeFile(file, JSON.stringify(compose, null, 2))
  const stack = `ofa-test-${RUN}`
  const containers = async () =>
    (await dockerOk(['ps', '-a', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{.Status}}']))
      .split('\n')
      .filter(Boolean)
  let removed = false
  t.after(async () => {
    if (removed) return
    await docker(['stack', 'rm', stack])
    await eventually(async () => ((await containers()).length === 0 ? true : undefined), 'the stack gone', 60_000)
  })

  await dockerOk(['stack', 'deploy', '--resolve-image', 'never', '--compose-file', file, stack])
  // Healthy by its healthcheck, and counted as running by the swarm (which waits for the healthcheck too).
  const replicas = () => dockerOk(['service', 'ls', '--filter', `name=${stack}_ofa`, '--format', '{{.Replicas}}'])
  await eventually(
    async () =>
      (await containers()).some((s) => s.includes('(healthy)')) && (await replicas()).trim() === '1/1'
        ? true
        : undefined,
    'the service healthy and running',
    120_000,
  ).catch(async (err: Error) => {
    const logs = await docker(['service', 'logs', '--tail', '20', `${stack}_ofa`])
    const tasks = await docker(['service', 'ps', '--no-trunc', `${stack}_ofa`])
    throw new Error(`${err.message}\n${tasks.stdout}\n${logs.stdout}${logs.stderr}`)
  })
  const robot = await eventually(async () => {
    const a = await getJson(`http://127.0.0.1:${port}/api/assets/ROBOT-1`)
    return a.availability === 'AVAILABLE' ? a : undefined
  }, 'the simulated device available through the service')
  assert.equal(robot.uuid, 'ROBOT-1')
  // The image carries the built dashboard: the service's serving app answers it at /, and its script.
  const page = await fetch(`http://127.0.0.1:${port}/`)
  assert.equal(page.status, 200)
  const html = await page.text()
  assert.match(html, /<div id="app"><\/div>/)
  const script = /<script type="module" crossorigin src="(\/static\/[^"]+\.js)"/.exec(html)?.[1]
  assert.ok(script, html)
  assert.equal((await fetch(`http://127.0.0.1:${port}${script}`)).status, 200)

  await dockerOk(['stack', 'rm', stack])
  await eventually(async () => ((await containers()).length === 0 ? true : undefined), 'the stack gone', 60_000)
  removed = true
  assert.equal(
    (await dockerOk(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '-q'])).trim(),
    '',
  )
})

test('ofa image build says which engine does not answer, and when docker is missing', async () => {
  const unreachable = await ofa(['image', 'build', '--docker-host', 'unix:///nonexistent/docker.sock'])
  assert.equal(unreachable.code, 1)
  assert.match(
    unreachable.stderr,
    /^OFA_DOCKER_UNREACHABLE no Docker engine answers at DOCKER_HOST=unix:\/\/\/nonexistent\/docker\.sock: /m,
  )

  const missing = await ofa(['image', 'build'], { env: { PATH: '/nonexistent' } })
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^OFA_DOCKER_MISSING the docker command is not installed or not on PATH/m)
})

test("a docker import that fails is OFA_IMAGE_BUILD with docker's message", async (t) => {
  // A docker of our own on PATH: it answers `version`, lists no image, and refuses the import after 1000 bytes.
  const bin = await tempDir(t, 'ofa-fake-docker-')
  await writeFile(
    join(bin, 'docker'),
    [
      '#!/bin/sh',
      'case "$1" in',
      '  version) echo 99.0-fake ;;',
      '  image) [ "$2" = ls ] && exit 0; exit 1 ;;',
      '  import) head -c 1000 >/dev/null; echo "Error response from daemon: archive/tar: invalid tar header" >&2; exit 1 ;;',
      '  *) exit 2 ;;',
      'esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  )
  const r = await ofa(['image', 'build', '--tag', TAG], { env: { PATH: `${bin}:${process.env.PATH}` } })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^docker engine 99\.0-fake at /m)
  assert.match(
    r.stderr,
    /^OFA_IMAGE_BUILD docker import failed: Error response from daemon: archive\/tar: invalid tar header$/m,
  )
})

test('ofa image build refuses a bad tag and stray arguments; ofa image needs build', async () => {
  const badTag = await ofa(['image', 'build', '--tag', 'Not A Name'])
  assert.equal(badTag.code, 2)
  assert.match(badTag.stderr, /^OFA_CLI_USAGE --tag Not A Name: not an image name/m)
  assert.equal((await ofa(['image', 'build', 'extra'])).code, 2)
  const none = await ofa(['image'])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /ofa image needs a subcommand: build/)
})
