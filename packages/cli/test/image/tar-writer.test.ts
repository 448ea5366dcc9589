// The tar writer of `ofa image build`, read back by GNU tar (a reader we did not write): files from memory and from
// disk, directories with their modes, symbolic links, names and link targets past ustar's 100 bytes and not ASCII
// (pax extended headers), owner root; the same entries give the same bytes; a file that changed size is refused.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { type TarEntry, writeTar } from '../../src/image/tar-writer.ts'
import { tempDir } from '../helpers.ts'

async function archive(entries: TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = []
  await writeTar(entries, (c) => {
    chunks.push(Buffer.from(c))
  })
  return Buffer.concat(chunks)
}

const longDir = `app/${'d'.repeat(60)}/${'e'.repeat(60)}`
const longName = `${longDir}/${'f'.repeat(70)}.js`

test('GNU tar extracts what writeTar wrote, modes, links and long names included', async (t) => {
  const dir = await tempDir(t, 'ofa-tar-')
  const onDisk = join(dir, 'big.bin')
  const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7) // past the size read whole, and not a multiple of 512
  await writeFile(onDisk, big)
  const entries: TarEntry[] = [
    { kind: 'directory', path: 'app', mode: 0o755 },
    { kind: 'file', path: 'app/hello.txt', mode: 0o644, size: 6, source: Buffer.from('hello\n') },
    { kind: 'file', path: 'app/big.bin', mode: 0o600, size: big.length, source: onDisk },
    { kind: 'file', path: 'app/small.bin', mode: 0o755, size: 3, source: Buffer.from([1, 2, 3]) },
    { kind: 'directory', path: longDir.split('/').slice(0, 2).join('/'), mode: 0o755 },
    { kind: 'directory', path: longDir, mode: 0o755 },
    { kind: 'file', path: longName, mode: 0o644, size: 2, source: Buffer.from('{}') },
    { kind: 'file', path: 'app/é.txt', mode: 0o644, size: 1, source: Buffer.from('x') },
    { kind: 'symlink', path: 'app/link', target: 'hello.txt' },
    { kind: 'symlink', path: 'app/far', target: `../${longName}` },
    { kind: 'directory', path: 'tmp', mode: 0o1777 },
  ]
  const tar = await archive(entries)
  assert.equal(tar.length % 512, 0)
  const out = join(dir, 'out')
  spawnSync('mkdir', [out])
  const x = spawnSync('tar', ['-x', '-C', out, '--no-same-owner'], { input: tar })
  assert.equal(x.status, 0, String(x.stderr))

  assert.equal(readFileSync(join(out, 'app/hello.txt'), 'utf8'), 'hello\n')
  assert.deepEqual(readFileSync(join(out, 'app/big.bin')), big)
  assert.equal(statSync(join(out, 'app/big.bin')).mode & 0o777, 0o600)
  assert.equal(statSync(join(out, 'app/small.bin')).mode & 0o777, 0o755)
  assert.equal(readFileSync(join(out, longName), 'utf8'), '{}')
  assert.equal(readFileSync(join(out, 'app/é.txt'), 'utf8'), 'x')
  assert.equal(readlinkSync(join(out, 'app/link')), 'hello.txt')
  assert.equal(readlinkSync(join(out, 'app/far')), `../${longName}`)
  assert.ok(lstatSync(join(out, 'app/far')).isSymbolicLink())

  const list = spawnSync('tar', ['-tv', '--numeric-owner'], { input: tar, encoding: 'utf8' })
  assert.equal(list.status, 0, list.stderr)
  for (const line of list.stdout.trim().split('\n')) assert.match(line, /^\S+ 0\/0 /, line)
  assert.match(list.stdout, /^drwxrwxrwt 0\/0 +0 \S+ \S+ tmp\/$/m)

  assert.deepEqual(await archive(entries), tar, 'the same entries give the same bytes')
})

test('writeTar refuses a file whose size is not the one listed', async (t) => {
  const dir = await tempDir(t, 'ofa-tar-')
  const file = join(dir, 'grew.txt')
  await writeFile(file, 'longer than listed')
  await assert.rejects(
    archive([{ kind: 'file', path: 'grew.txt', mode: 0o644, size: 4, source: file }]),
    /grew\.txt changed while it was read/,
  )
})
