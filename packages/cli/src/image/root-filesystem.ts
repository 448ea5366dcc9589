/**
 * The root filesystem of the project's own image (`ofa image build`), built from what this machine has, with no
 * base image: the Node 24 binary of the npm `node` package at /usr/bin/node, the shared libraries `ldd` lists for
 * it (the dynamic loader among them) at the paths `ldd` gives, a few files of /etc, and the app at /app — the
 * root package.json, the workspace packages (without their tests; the dashboard's with its built dist/) and the npm
 * packages `npm ls --omit=dev` lists, as `npm ci` installed them (the workspace links of node_modules/@openfactory stay links). /data is the working
 * directory, /tmp is writable by all.
 */
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { OpenFactoryError } from '@openfactory/model'
import type { TarEntry } from './tar-writer.ts'

/** Where things are in the image. */
export const IMAGE_LAYOUT = {
  node: '/usr/bin/node',
  app: '/app',
  cli: '/app/packages/cli/bin/ofa.js',
  workdir: '/data',
} as const

export interface RootFilesystemOptions {
  /** The repository: its package.json, packages/ and node_modules/. */
  readonly root: string
  /** The environment `ldd` and `npm` run with (PATH). */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface RootFilesystem {
  /** Every member, parents before children, sorted by path. */
  readonly entries: readonly TarEntry[]
  readonly nodeVersion: string
  /** The libraries' paths, as `ldd` printed them. */
  readonly libraries: readonly string[]
  readonly workspaces: readonly string[]
  /** npm packages of node_modules taken (production dependencies, workspace links excluded). */
  readonly dependencies: number
  readonly files: number
  /** The files' bytes. */
  readonly bytes: number
}

const buildError = (message: string, cause?: unknown) => new OpenFactoryError('OFA_IMAGE_BUILD', message, { cause })

/** Runs a command of this machine and collects its output (a failure to start it is OFA_IMAGE_BUILD). */
export function capture(cmd: string, args: string[], opts: { cwd?: string; env: RootFilesystemOptions['env'] }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.on('error', (err) => reject(buildError(`cannot run ${cmd}: ${err.message}`, err)))
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
  })
}

/**
 * The shared objects a binary loads, from `ldd`: `name => /path (0x...)` for each library, `/path (0x...)` for the
 * dynamic loader; the kernel's vDSO has no path and is skipped.
 */
export async function sharedLibraries(binary: string, env: RootFilesystemOptions['env']): Promise<string[]> {
  const r = await capture('ldd', [binary], { env })
  if (r.code !== 0) throw buildError(`ldd ${binary} failed: ${(r.stderr || r.stdout).trim()}`)
  const libraries: string[] = []
  for (const line of r.stdout.split('\n')) {
    if (/=> not found/.test(line)) throw buildError(`ldd ${binary}: ${line.trim()}`)
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)
    if (m) libraries.push(m[1]!)
  }
  if (!libraries.some((l) => /\/ld-linux[^/]*\.so/.test(l) || /\/ld-musl/.test(l))) {
    throw buildError(`ldd ${binary} named no dynamic loader:\n${r.stdout}`)
  }
  return libraries
}

/** The directories of the production dependencies, from `npm ls --omit=dev --all --parseable` (root excluded). */
async function productionPackages(root: string, env: RootFilesystemOptions['env']): Promise<string[]> {
  // npm ls exits 1 on an untidy tree (an extraneous package) and still lists it: the list is what counts.
  const r = await capture('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, env })
  const dirs = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== root)
  if (dirs.length === 0) throw buildError(`npm ls found no dependencies in ${root}: ${r.stderr.trim()}`)
  return [...new Set(dirs)].sort()
}

/** The members of a root filesystem being planned, by path; parents are added as they are needed. */
export class Tree {
  readonly #entries = new Map<string, TarEntry>()
  files = 0
  bytes = 0

  add(entry: TarEntry): void {
    const p = entry.path.replace(/^\/+/, '').replace(/\/+$/, '')
    if (p === '' || this.#entries.has(p)) return
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (!this.#entries.has(dir)) this.#entries.set(dir, { kind: 'directory', path: dir, mode: 0o755 })
    }
    this.#entries.set(p, { ...entry, path: p })
    if (entry.kind === 'file') {
      this.files++
      this.bytes += entry.size
    }
  }

  /** A file of this machine at `imagePath`, its content read through symbolic links. */
  addFile(imagePath: string, source: string, mode?: number): void {
    const real = realpathSync(source)
    const st = statSync(real)
    this.add({ kind: 'file', path: imagePath, mode: mode ?? st.mode & 0o7777, size: st.size, source: real })
  }

  addText(imagePath: string, text: string, mode = 0o644): void {
    const data = Buffer.from(text, 'utf8')
    this.add({ kind: 'file', path: imagePath, mode, size: data.length, source: data })
  }

  /**
   * A directory of this machine, recursively, at `imagePath`: files, directories and symbolic links as they are.
   * Folders named node_modules are skipped (the dependencies are taken one by one), and `skip` at the top.
   */
  addTree(imagePath: string, dir: string, skip: readonly string[] = []): void {
    this.add({ kind: 'directory', path: imagePath, mode: statSync(dir).mode & 0o7777 })
    for (const name of readdirSync(dir).sort()) {
      if (name === 'node_modules' || skip.includes(name)) continue
      const source = path.join(dir, name)
      const target = `${imagePath}/${name}`
      const st = lstatSync(source)
      if (st.isSymbolicLink()) this.add({ kind: 'symlink', path: target, target: readlinkSync(source) })
      else if (st.isDirectory()) this.addTree(target, source)
      else if (st.isFile()) this.add({ kind: 'file', path: target, mode: st.mode & 0o7777, size: st.size, source })
    }
  }

  entries(): TarEntry[] {
    return [...this.#entries.keys()].sort().map((k) => this.#entries.get(k)!)
  }
}

/** The few files of /etc a program of ours needs: users and groups, the host names and how to look names up. */
export const ETC = {
  'etc/passwd': 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  'etc/nsswitch.conf':
    'passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n',
}
/** The CA certificates (Debian's bundle), taken when this machine has them. */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

/** The dashboard's workspace: its built files (dist/, git-ignored) go into the image with it. */
const DASHBOARD_WORKSPACE = 'packages/dashboard'

/**
 * Builds the dashboard of the repository at `root` (`npm run build -w @openfactory/dashboard`: Vite, a dev
 * dependency of this machine's install) when its dist/ is missing, so that the image's serving app serves it.
 * Returns true when it built. `npm ci` builds it already; this covers a checkout where dist/ was removed.
 */
export async function ensureDashboardBuilt(root: string, env: RootFilesystemOptions['env']): Promise<boolean> {
  const rootPkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { workspaces?: string[] }
  if (!(rootPkg.workspaces ?? []).includes(DASHBOARD_WORKSPACE)) return false
  if (existsSync(path.join(root, DASHBOARD_WORKSPACE, 'dist', 'index.html'))) return false
  const r = await capture('npm', ['run', 'build', '-w', '@openfactory/dashboard'], { cwd: root, env })
  if (r.code !== 0) throw buildError(`building the dashboard failed:\n${(r.stderr || r.stdout).trim().slice(-4000)}`)
  return true
}

/** Lists the image's files; reads nothing but directories, stats and the outputs of `ldd` and `npm ls`. */
export async function planRootFilesystem(opts: RootFilesystemOptions): Promise<RootFilesystem> {
  const { root, env } = opts
  const nodeDir = path.join(root, 'node_modules', 'node')
  const nodeBinary = path.join(nodeDir, 'bin', 'node')
  if (!existsSync(nodeBinary)) {
    throw buildError(`${nodeBinary} is missing: run "npm ci" in ${root} (the npm package node brings Node 24)`)
  }
  const nodeVersion = (JSON.parse(readFileSync(path.join(nodeDir, 'package.json'), 'utf8')) as { version: string })
    .version
  const rootPkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { workspaces?: string[] }
  const [libraries, packages] = await Promise.all([
    sharedLibraries(realpathSync(nodeBinary), env),
    productionPackages(root, env),
  ])

  const tree = new Tree()
  tree.addFile(IMAGE_LAYOUT.node, nodeBinary, 0o755)
  for (const lib of libraries) tree.addFile(lib, lib, 0o755)
  for (const [file, text] of Object.entries(ETC)) tree.addText(file, text)
  if (existsSync(CA_BUNDLE)) tree.addFile(CA_BUNDLE, CA_BUNDLE, 0o644)
  tree.add({ kind: 'directory', path: 'tmp', mode: 0o1777 })
  tree.add({ kind: 'directory', path: 'root', mode: 0o700 })
  tree.add({ kind: 'directory', path: IMAGE_LAYOUT.workdir, mode: 0o755 })

  const app = IMAGE_LAYOUT.app
  tree.addFile(`${app}/package.json`, path.join(root, 'package.json'), 0o644)
  const workspaces = rootPkg.workspaces ?? []
  if (
    workspaces.includes(DASHBOARD_WORKSPACE) &&
    !existsSync(path.join(root, DASHBOARD_WORKSPACE, 'dist', 'index.html'))
  ) {
    throw buildError(
      `${DASHBOARD_WORKSPACE}/dist is missing: run "npm ci" (or npm run build -w @openfactory/dashboard) in ${root}`,
    )
  }
  for (const ws of workspaces) tree.addTree(`${app}/${ws}`, path.join(root, ws), ['test'])
  let dependencies = 0
  for (const dir of packages) {
    const rel = path.relative(root, dir)
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw buildError(`npm ls listed ${dir}, outside ${root}`)
    const st = lstatSync(dir)
    if (st.isSymbolicLink()) {
      const target = readlinkSync(dir)
      const inside = path.isAbsolute(target) ? `${app}/${path.relative(root, target)}` : target
      tree.add({ kind: 'symlink', path: `${app}/${rel}`, target: inside })
    } else {
      tree.addTree(`${app}/${rel}`, dir)
      dependencies++
    }
  }
  return {
    entries: tree.entries(),
    nodeVersion,
    libraries,
    workspaces,
    dependencies,
    files: tree.files,
    bytes: tree.bytes,
  }
}
