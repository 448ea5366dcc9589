// The files of a deployment (deploy/snapshot.ts): what is kept, each limit just past its edge, a snapshot from the
// log not trusted (paths, hash), written once; and a factory's state the same from a copy of its folder.
import assert from 'node:assert/strict'
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { isOpenFactoryError, loadFactory } from '@openfactory/model'
import {
  MAX_SNAPSHOT_FILES,
  MAX_SNAPSHOT_GZIP_BYTES,
  type Snapshot,
  snapshotFiles,
  takeSnapshot,
  writeSnapshot,
} from '../src/deploy/snapshot.ts'
import { generateStack } from '../src/deploy/stack.ts'
import { desiredState } from '../src/deploy/state.ts'
import { demoCopy, ofa, tempDir } from './helpers.ts'

test('a snapshot keeps the files the loader looks at, and writes them back byte for byte', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'devices'))
  await mkdir(join(dir, '.ofa-data'))
  await mkdir(join(dir, 'node_modules', 'x'), { recursive: true })
  await mkdir(join(dir, 'scratch'))
  await writeFile(join(dir, 'factory.yaml'), 'name: snap\n')
  await writeFile(join(dir, 'devices', 'm.yml'), 'devices: {}\n')
  await writeFile(join(dir, 'devices', 'rec.bin'), Buffer.from([0, 255, 10, 13]))
  await writeFile(join(dir, '.ofa-data', 'log'), 'not kept')
  await writeFile(join(dir, 'node_modules', 'x', 'i.js'), 'not kept')
  await writeFile(join(dir, 'scratch', '.ofa-skip'), '')
  await writeFile(join(dir, 'scratch', 'broken.yml'), 'not kept')
  const s = await takeSnapshot(dir)
  assert.equal(s.files, 3)
  assert.deepEqual([...snapshotFiles(s).keys()], ['devices/m.yml', 'devices/rec.bin', 'factory.yaml'])
  const root = join(dir, 'out')
  const written = await writeSnapshot(s, root)
  assert.equal(written, join(root, s.sha256))
  assert.deepEqual(await readFile(join(written, 'devices', 'rec.bin')), Buffer.from([0, 255, 10, 13]))
  assert.equal(await writeSnapshot(s, root), written, 'written once')
  assert.deepEqual(await readdir(root), [s.sha256], 'no partial folder left')
  assert.equal((await takeSnapshot(written)).sha256, s.sha256, 'the same files, the same hash')
})

test('snapshot limits: files and compressed bytes, refused just past the edge', async (t) => {
  const dir = await tempDir(t)
  for (let i = 0; i < MAX_SNAPSHOT_FILES; i++) await writeFile(join(dir, `f${i}.txt`), '')
  assert.equal((await takeSnapshot(dir)).files, MAX_SNAPSHOT_FILES)
  await writeFile(join(dir, 'one-more.txt'), '')
  await assert.rejects(
    takeSnapshot(dir),
    (e) => isOpenFactoryError(e, 'OFA_DEPLOY_TOO_LARGE') && /2000 files/.test(e.message),
  )

  const big = await tempDir(t)
  // Random bytes do not compress: gzip takes their base64 back to about their own size.
  const { randomBytes } = await import('node:crypto')
  await writeFile(join(big, 'noise.bin'), randomBytes(MAX_SNAPSHOT_GZIP_BYTES + 1024))
  await assert.rejects(
    takeSnapshot(big),
    (e) => isOpenFactoryError(e, 'OFA_DEPLOY_TOO_LARGE') && /compressed/.test(e.message),
  )
  await writeFile(join(big, 'noise.bin'), randomBytes(MAX_SNAPSHOT_GZIP_BYTES - 16 * 1024))
  assert.equal((await takeSnapshot(big)).files, 1)
})

test('a snapshot from the log is not trusted: climbing or absolute paths, a wrong hash, garbage', async (t) => {
  const forge = (files: Record<string, string>, sha256 = '0'.repeat(64)): Snapshot => ({
    sha256,
    files: Object.keys(files).length,
    bytes: 0,
    gzip: gzipSync(JSON.stringify(files)).toString('base64'),
  })
  for (const path of ['../escape.yml', '/etc/passwd', 'a/../../b', 'a//b', '.hidden', 'a/./b']) {
    assert.throws(
      () => snapshotFiles(forge({ [path]: Buffer.from('x').toString('base64') })),
      (e) => isOpenFactoryError(e, 'OFA_DEPLOY_SNAPSHOT') && /not plain/.test(e.message),
      path,
    )
  }
  assert.throws(
    () => snapshotFiles(forge({ 'factory.yaml': 'eA==' })),
    (e) => isOpenFactoryError(e, 'OFA_DEPLOY_SNAPSHOT') && /do not match/.test(e.message),
  )
  assert.throws(
    () => snapshotFiles({ sha256: 'x', files: 0, bytes: 0, gzip: 'bm90IGd6aXA=' }),
    (e) => isOpenFactoryError(e, 'OFA_DEPLOY_SNAPSHOT') && /unreadable/.test(e.message),
  )
  const root = await tempDir(t)
  await assert.rejects(writeSnapshot(forge({ '../x': 'eA==' }), root), (e) =>
    isOpenFactoryError(e, 'OFA_DEPLOY_SNAPSHOT'),
  )
  assert.deepEqual(await readdir(root), [], 'nothing written')
})

test('the demo factory from a copy of its folder: the same state and the same service digests', async (t) => {
  const dir = await demoCopy(t)
  const copy = join(await tempDir(t), 'elsewhere')
  await cp(dir, copy, { recursive: true })
  const [a, b] = await Promise.all([loadFactory([dir]), loadFactory([copy])])
  assert.deepEqual(desiredState(b), desiredState(a))
  const labels = (f: typeof a) =>
    Object.entries(generateStack(f, { image: 'i', bootstrapServers: ['k:9092'] }).services).map(([n, s]) => [
      n,
      s.deploy.labels,
    ])
  assert.deepEqual(labels(b), labels(a))
  // A referenced file's content is part of its device: a changed device XML changes the state.
  const xml = join(copy, 'mtconnect', 'mill-3axis.xml')
  await writeFile(xml, `${await readFile(xml, 'utf8')}\n<!-- changed -->\n`)
  const changed = desiredState(await loadFactory([copy]))
  assert.notDeepEqual(changed, desiredState(a))
  assert.deepEqual(labels(await loadFactory([copy])).length, labels(a).length)
})

test('a link to a file is kept as that file; a link to a folder is not followed', async (t) => {
  const dir = await tempDir(t)
  const outside = await tempDir(t)
  await writeFile(join(outside, 'shared.yml'), 'devices: {}\n')
  await mkdir(join(outside, 'loop'))
  await writeFile(join(dir, 'factory.yaml'), 'name: links\n')
  await symlink(join(outside, 'shared.yml'), join(dir, 'shared.yml'))
  await symlink(outside, join(dir, 'elsewhere'))
  await symlink(join(dir, 'gone.yml'), join(dir, 'dangling.yml'))
  const files = snapshotFiles(await takeSnapshot(dir))
  assert.deepEqual([...files.keys()], ['factory.yaml', 'shared.yml'])
  assert.equal(files.get('shared.yml')?.toString(), 'devices: {}\n')
})

test('ofa apply refuses a state folder inside the factory folder (each snapshot would hold the ones before)', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'factory.yaml'), 'name: inside\n')
  const r = await ofa(['apply', dir, '--swarm', '--bootstrap', '127.0.0.1:1', '--state-dir', join(dir, 'state')])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /OFA_CLI_USAGE --state-dir .* is inside the factory folder/)
})

test('a credential in a connector is recorded as a slow digest only: a change shows, the value never', async (t) => {
  const dir = await tempDir(t)
  const device = (password: string) =>
    `devices:\n  m:\n    uuid: OPC-1\n    connector:\n      type: opcua\n      server:\n        uri: opc.tcp://127.0.0.1:4840\n        user: {name: ofa, password: ${password}}\n      variables:\n        t: {node_id: "ns=2;i=1", tag: Temperature}\n`
  await writeFile(join(dir, 'devices.yml'), device('hunter2'))
  const a = JSON.stringify(desiredState(await loadFactory([dir])))
  assert.doesNotMatch(a, /hunter2/)
  assert.match(a, /secret scrypt:[0-9a-f]{24}/)
  await writeFile(join(dir, 'devices.yml'), device('hunter3'))
  const b = JSON.stringify(desiredState(await loadFactory([dir])))
  assert.notEqual(a, b)
  const labels = JSON.stringify(generateStack(await loadFactory([dir]), { image: 'i', bootstrapServers: ['k:9092'] }))
  assert.doesNotMatch(labels, /hunter3/)
})
