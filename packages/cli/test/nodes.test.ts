// ofa nodes ls|up|down against the single-node swarm of scripts/docker: a declared node in the swarm gets its labels,
// one not in the swarm gets the join command (exit 1); draining the last active node is refused, nothing changed.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { docker, dockerHost, dockerOk } from './docker-engine.ts'
import { ofa, tempDir } from './helpers.ts'

test('ofa nodes up labels the declared node in the swarm and says how to join the others; down never drains the last', async (t) => {
  const host = await dockerHost()
  const label = `ofa-test-${randomBytes(4).toString('hex')}`
  const self = (await dockerOk(['info', '--format', '{{.Swarm.NodeID}}'])).trim()
  const addr = (await dockerOk(['node', 'inspect', self, '--format', '{{.Status.Addr}}'])).trim()
  t.after(async () => {
    await docker(['node', 'update', '--label-rm', label, self])
  })
  const dir = await tempDir(t)
  const file = join(dir, 'infrastructure.yml')
  await writeFile(
    file,
    `nodes:\n  managers:\n    m1:\n      ip: ${addr}\n      labels:\n        ${label}: building-a\n  workers:\n    w1:\n      ip: 192.0.2.11\n`,
  )
  const up = await ofa(['nodes', 'up', file, '--docker-host', host])
  assert.equal(up.code, 1, `${up.stderr}\n${up.stdout}`)
  assert.match(
    up.stdout,
    new RegExp(`^m1 \\(${addr.replaceAll('.', '\\.')}\\): .*, manager, active, labels ${label}=building-a$`, 'm'),
  )
  assert.match(
    up.stdout,
    /^w1 \(192\.0\.2\.11\): not in the swarm; on 192\.0\.2\.11 run: docker swarm join --token SWMTKN-\S+ \S+:\d+$/m,
  )
  const ls = JSON.parse((await ofa(['nodes', 'ls', '--json', '--docker-host', host])).stdout)
  const node = ls.nodes.find((n: { id: string }) => n.id === self)
  assert.equal(node.labels[label], 'building-a')
  assert.equal(node.self, true)

  const down = await ofa(['nodes', 'down', file, '--docker-host', host])
  assert.equal(down.code, 1)
  assert.match(down.stderr, /OFA_DEPLOY_NODE draining 1 node\(s\) would leave no active node/)
  const after = (
    await dockerOk([
      'node',
      'inspect',
      self,
      '--format',
      '{{.Spec.Availability}} {{index .Spec.Labels "' + label + '"}}',
    ])
  ).trim()
  assert.equal(after, 'active building-a', 'nothing changed')

  const absent = join(dir, 'absent.yml')
  await writeFile(absent, 'nodes:\n  workers:\n    w9:\n      ip: 192.0.2.99\n')
  const gone = await ofa(['nodes', 'down', absent, '--docker-host', host])
  assert.equal(gone.code, 0, gone.stderr)
  assert.equal(gone.stdout, 'w9 (192.0.2.99): not in the swarm\n')
  const devices = join(dir, 'devices.yml')
  await writeFile(devices, 'devices: {}\n')
  const none = await ofa(['nodes', 'up', devices, '--docker-host', host])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /OFA_DEPLOY_NODE .*declares no node/)
})
