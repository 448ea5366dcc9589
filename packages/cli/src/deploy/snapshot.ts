/**
 * The files of a deployment, kept with its record on the log so that `ofa rollback` can put them back to work
 * without the folder they came from (a later commit, another machine).
 *
 * A snapshot is every regular file of the factory folder the loader would look at — hidden entries, node_modules and
 * folders below it holding a `.ofa-skip` file left out, as the folder walk does — gzipped JSON in base64, with the
 * SHA-256 of its content (the name of the folder it is written to). Limits, each refused with
 * `OFA_DEPLOY_TOO_LARGE` naming the folder: MAX_SNAPSHOT_FILES files, MAX_SNAPSHOT_BYTES bytes of files, and
 * MAX_SNAPSHOT_GZIP_BYTES compressed (a Kafka record is at most 1 MiB by default, and the record holds the state
 * and the plan too).
 *
 * A snapshot read from the log is not trusted: a path that is absolute, climbs (`..`) or is not plain is refused
 * (`OFA_DEPLOY_SNAPSHOT`) before anything is written.
 */
import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { OpenFactoryError, SKIP_MARKER } from '@openfactory/model'

export const MAX_SNAPSHOT_FILES = 2000
export const MAX_SNAPSHOT_BYTES = 16 << 20
export const MAX_SNAPSHOT_GZIP_BYTES = 512 << 10

export interface Snapshot {
  /** SHA-256 (hex) of the files: their sorted paths and contents. */
  readonly sha256: string
  readonly files: number
  /** Bytes of the files, uncompressed. */
  readonly bytes: number
  /** `{ path: base64 }` as JSON, gzipped, in base64. */
  readonly gzip: string
}

function tooLarge(dir: string, what: string): OpenFactoryError {
  return new OpenFactoryError(
    'OFA_DEPLOY_TOO_LARGE',
    `the factory folder is too large to deploy: ${what} (a deployment keeps its files on the log)`,
    { where: { file: dir } },
  )
}

/** The files under `dir` the snapshot holds, as paths relative to it (`/`-separated), sorted. */
async function listFiles(dir: string, exclude?: (path: string) => boolean): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string, top: boolean): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true })
    if (!top && entries.some((e) => e.name === SKIP_MARKER)) return
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue
      const p = join(d, e.name)
      // A link to a file is kept as the file it names (the loader reads through it); a link to a folder is not
      // followed (it could loop), as the loader's walk does not follow it either.
      const file = e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isFile() === true)
      if (e.isDirectory()) await walk(p, false)
      else if (file) {
        const rel = relative(dir, p).split(sep).join('/')
        if (exclude?.(rel)) continue
        out.push(rel)
        if (out.length > MAX_SNAPSHOT_FILES) throw tooLarge(dir, `more than ${MAX_SNAPSHOT_FILES} files`)
      }
    }
  }
  await walk(dir, true)
  return out
}

function hashOf(files: ReadonlyMap<string, Buffer>): string {
  const h = createHash('sha256')
  for (const [path, content] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${path}\0${content.length}\0`)
    h.update(content)
  }
  return h.digest('hex')
}

/** The snapshot of a factory folder; `exclude` leaves files out (paths relative to it, `/`-separated). */
export async function takeSnapshot(dir: string, exclude?: (path: string) => boolean): Promise<Snapshot> {
  const files = new Map<string, Buffer>()
  let bytes = 0
  for (const path of await listFiles(dir, exclude)) {
    const full = join(dir, path)
    const size = (await stat(full)).size
    bytes += size
    if (bytes > MAX_SNAPSHOT_BYTES) throw tooLarge(dir, `more than ${MAX_SNAPSHOT_BYTES} bytes of files`)
    files.set(path, await readFile(full))
  }
  const json = JSON.stringify(Object.fromEntries([...files].map(([p, c]) => [p, c.toString('base64')])))
  const gzip = gzipSync(json, { level: 9 })
  if (gzip.length > MAX_SNAPSHOT_GZIP_BYTES) {
    throw tooLarge(dir, `${gzip.length} bytes compressed, more than ${MAX_SNAPSHOT_GZIP_BYTES}`)
  }
  return { sha256: hashOf(files), files: files.size, bytes, gzip: gzip.toString('base64') }
}

const isDirectory = (p: string) =>
  lstat(p).then(
    (st) => st.isDirectory(),
    () => false,
  )

const PLAIN_PATH = /^(?!\.)[^/\0]+(?:\/(?!\.)[^/\0]+)*$/

/** The files of a snapshot, each path checked (a record read from the log is not trusted). */
export function snapshotFiles(s: Snapshot): Map<string, Buffer> {
  const bad = (why: string) => new OpenFactoryError('OFA_DEPLOY_SNAPSHOT', `snapshot ${s.sha256}: ${why}`)
  let parsed: unknown
  try {
    const compressed = Buffer.from(s.gzip, 'base64')
    if (compressed.length > MAX_SNAPSHOT_GZIP_BYTES) throw bad('larger than a snapshot may be')
    parsed = JSON.parse(gunzipSync(compressed, { maxOutputLength: 2 * MAX_SNAPSHOT_BYTES }).toString('utf8'))
  } catch (err) {
    if (err instanceof OpenFactoryError) throw err
    throw bad(`unreadable (${(err as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('not a map of files')
  const files = new Map<string, Buffer>()
  for (const [path, content] of Object.entries(parsed)) {
    if (!PLAIN_PATH.test(path) || path.split('/').includes('..')) throw bad(`a file path that is not plain: ${path}`)
    if (typeof content !== 'string') throw bad(`the content of ${path} is not text`)
    files.set(path, Buffer.from(content, 'base64'))
  }
  if (files.size > MAX_SNAPSHOT_FILES) throw bad(`more than ${MAX_SNAPSHOT_FILES} files`)
  if (hashOf(files) !== s.sha256) throw bad('its files do not match its SHA-256')
  return files
}

/**
 * The snapshot's files in `<root>/<sha256>` (the folder returned), written once: into a folder beside it, renamed
 * into place when complete, so that a folder of that name always holds the whole snapshot.
 */
export async function writeSnapshot(s: Snapshot, root: string): Promise<string> {
  const target = join(root, s.sha256)
  if (await isDirectory(target)) return target
  const files = snapshotFiles(s)
  const partial = `${target}.partial-${process.pid}`
  await rm(partial, { recursive: true, force: true })
  for (const [path, content] of files) {
    const full = join(partial, ...path.split('/'))
    await mkdir(dirname(full), { recursive: true })
    await writeFile(full, content)
  }
  await mkdir(partial, { recursive: true })
  try {
    await rename(partial, target)
  } catch (err) {
    // Another apply wrote it meanwhile: the same files, by their name.
    await rm(partial, { recursive: true, force: true })
    if (!(await isDirectory(target))) throw err
  }
  return target
}
