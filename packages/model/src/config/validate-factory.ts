/**
 * Loading a factory: finds its files, reads each one, tells their kinds apart by their top-level keys,
 * checks everything, and reports every problem at once with its file, line, column and field path.
 *
 * Kinds (a file may hold sections of several kinds, as reference files were sometimes written):
 * - `devices:`                                  device file (device-schema.ts)
 * - `apps:`                                     app file (app-schema.ts)
 * - `nodes:` / `networks:` / `volumes:`          infrastructure file (infra-schema.ts)
 * - `namespace_structure:` / `uns_template:`    UNS schema (uns-schema.ts)
 * - a file named factory.yaml / factory.yml     our manifest (factory-manifest.ts)
 *
 * Which UNS schema applies: the `uns` option (`--uns`), else factory.yaml's `uns`, else the environment
 * variable OPENFACTORY_UNS_SCHEMA, else `uns_schema.yml` / `uns.yml` in the factory folder.
 *
 * Walking a folder skips hidden folders, node_modules, and folders holding a `.ofa-skip` file (those are listed
 * in the result's `skipped`); a folder named on its own (a path given, an `include` entry) is read.
 *
 * Bounded (limits.ts): files are read one after the other, each refused past its size or past the size of all
 * files, and none past the number of files. Between files, and while checking many entries, the reader yields
 * to the event loop and looks at the abort signal (`signal`), so that Ctrl-C stops a long validation.
 */
import { type Dirent, existsSync } from 'node:fs'
import { glob, open, readdir, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { type TSchema, Type } from '@sinclair/typebox'
import type { UnsPlacement } from '../asset.ts'
import { OpenFactoryError, type Where } from '../errors.ts'
import { type AppSpec, AppSpec as AppSpecSchema } from './app-schema.ts'
import {
  type Anchor,
  checkValue,
  describeValue,
  formatPath,
  INVALID,
  type Issue,
  isPlainObject,
  type PathSegment,
  unknownFieldMessage,
  validateValue,
} from './check-value.ts'
import {
  type ConnectorConfig,
  type DeviceSpec,
  DeviceSpec as DeviceSpecSchema,
  type MTConnectAgent,
} from './device-schema.ts'
import { type Env, OFAENV_FILE, withOfaenv } from './expand-env.ts'
import {
  type AppConfig,
  type ConfigFile,
  type ConfigKind,
  ConfigWarning,
  type Declared,
  type DeviceConfig,
  type Factory,
  type NetworkConfig,
  type NodeConfig,
  SKIP_MARKER,
  type ValidateFactoryOptions,
  type ValidateFactoryResult,
  type VolumeConfig,
} from './factory.ts'
import { type FactoryManifest, FactoryManifestSpec, resolveManifest } from './factory-manifest.ts'
import { canonicalIp, NetworkSpec, NodesSpec, type SwarmNodeSpec, VolumeSpec } from './infra-schema.ts'
import { bytesText, CONFIG_LIMITS, type ConfigLimits } from './limits.ts'
import { printable } from './printable.ts'
import { buildUnsSchema, checkUnsPlacement, type UnsSchema, UnsSchemaSpec, unsSchemaIssues } from './uns-schema.ts'
import { configProblem, issueToError, parseSource, type SourceFile, whereIn } from './yaml-source.ts'

export * from './factory.ts'

const MANIFEST_NAMES = new Set(['factory.yaml', 'factory.yml'])
const UNS_SCHEMA_NAMES = ['uns_schema.yml', 'uns.yml']
const YAML_FILE = /\.ya?ml$/i
const GLOB_CHARS = /[*?[\]{}]/
const URI = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//

const SECTION_KINDS: Readonly<Record<string, ConfigKind>> = {
  devices: 'devices',
  apps: 'apps',
  nodes: 'infrastructure',
  networks: 'infrastructure',
  volumes: 'infrastructure',
  namespace_structure: 'uns-schema',
  uns_template: 'uns-schema',
}

const NetworksSpec = Type.Record(Type.String(), NetworkSpec)
const VolumesSpec = Type.Record(Type.String(), VolumeSpec)

/**
 * Reads and checks a factory. `paths` are files or folders (folders are walked for .yml/.yaml files, or read
 * through their factory.yaml's `include`). Never throws for a bad configuration: problems are returned, and
 * `factory` holds everything that is valid.
 */
export async function validateFactory(
  paths: readonly string[],
  opts: ValidateFactoryOptions = {},
): Promise<ValidateFactoryResult> {
  return new FactoryReader(opts).read(paths)
}

/**
 * Reads a factory and throws `OFA_CONFIG_INVALID` when there is any problem. Its message is a summary (`3 problems
 * in the factory configuration`); the problems are in `problems`, each printed on its own (`format()`), so that
 * whoever prints the error and its problems prints each problem once.
 */
export async function loadFactory(paths: readonly string[], opts: ValidateFactoryOptions = {}): Promise<Factory> {
  const { factory, problems } = await validateFactory(paths, opts)
  if (problems.length > 0) {
    const n = problems.length
    throw new OpenFactoryError('OFA_CONFIG_INVALID', `${n} problem${n === 1 ? '' : 's'} in the factory configuration`, {
      problems,
    })
  }
  return factory
}

/** How long the reader works before it yields to the event loop (and sees an abort). */
const YIELD_EVERY_MS = 20

/** A file's bytes, or its size when it is larger than `max` (then it is not read past `max + 1` bytes). */
async function readBounded(path: string, max: number): Promise<{ bytes: Buffer } | { tooLarge: number }> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    if (size > max) return { tooLarge: size }
    // The size said is a hint (files under /proc say 0, a file may grow): read until the end, or past `max`.
    let buf = Buffer.allocUnsafe(Math.min(max + 1, size + 1))
    let n = 0
    for (;;) {
      if (n === buf.length) {
        if (n > max) return { tooLarge: n }
        const bigger = Buffer.allocUnsafe(Math.min(max + 1, Math.max(64 * 1024, buf.length * 2)))
        buf.copy(bigger, 0, 0, n)
        buf = bigger
      }
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n)
      if (bytesRead === 0) break
      n += bytesRead
    }
    return { bytes: buf.subarray(0, n) }
  } finally {
    await handle.close()
  }
}

interface WalkEvents {
  /** A folder that cannot be read: it is skipped. */
  onError(dir: string, err: Error): void
  /** A folder below the walked one that holds a `.ofa-skip` file: it is skipped. */
  onSkip(dir: string): void
  /** Before each folder: throws to stop the walk (an abort). */
  onFolder(): void
  /** Files the walk may still find; past it, it stops (the caller reports the limit). */
  readonly budget: { left: number }
}

/**
 * Every .yml/.yaml file under a folder, skipping hidden folders, node_modules, and folders (below `dir`)
 * holding a `.ofa-skip` file.
 */
async function walkFolder(dir: string, events: WalkEvents, top = true): Promise<string[]> {
  const out: string[] = []
  if (events.budget.left < 0) return out
  events.onFolder()
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    events.onError(dir, err as Error)
    return out
  }
  if (!top && entries.some((e) => e.name === SKIP_MARKER)) {
    events.onSkip(dir)
    return out
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const e of entries) {
    if (e.name.startsWith('.')) continue
    const p = resolve(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...(await walkFolder(p, events, false)))
    } else if (e.isFile() && YAML_FILE.test(e.name)) {
      out.push(p)
      events.budget.left--
    }
    if (events.budget.left < 0) break
  }
  return out
}

async function kindOfPath(p: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(p)
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined
  } catch {
    return undefined
  }
}

/** True when the formatted field path `p` is `prefix` or inside it. */
function isUnder(p: string, prefix: string): boolean {
  return prefix === '' || p === prefix || p.startsWith(`${prefix}.`) || p.startsWith(`${prefix}[`)
}

/** A file's sections, once its kinds are known. */
interface Sections {
  readonly src: SourceFile
  readonly value: Record<string, unknown>
  readonly kinds: ReadonlySet<ConfigKind>
}

/** The first declaration of a uuid, IP or name, to point at when another one repeats it. */
interface FirstSeen {
  readonly src: SourceFile
  readonly path: readonly PathSegment[]
}

/** One run of `validateFactory`: the phases in the order `read` calls them, and what they collect. */
class FactoryReader {
  readonly #cwd: string
  #env: Env
  readonly #unsOption?: string
  readonly #limits: ConfigLimits
  readonly #signal?: AbortSignal
  #lastYield = performance.now()
  /** Bytes of the files read so far. */
  #bytesRead = 0
  /** Problems that are not schema issues (files that cannot be read, YAML syntax, variables). */
  readonly #problems: OpenFactoryError[] = []
  readonly #issues: { src: SourceFile; issue: Issue }[] = []
  readonly #warnings: ConfigWarning[] = []
  readonly #skipped = new Set<string>()
  readonly #sources = new Map<string, SourceFile>()
  #manifestSrc?: SourceFile
  #manifest!: FactoryManifest
  /** The UNS schema file that applies, where it was named, and its state once read. */
  #uns: { path?: string; from: string; where?: Where; state: 'none' | 'broken' | UnsSchema } = {
    from: '',
    state: 'none',
  }
  readonly #uuids = new Map<string, FirstSeen>()
  readonly #ips = new Map<string, FirstSeen>()
  readonly #names = new Map<string, FirstSeen>()
  readonly #devices: DeviceConfig[] = []
  readonly #apps: AppConfig[] = []
  readonly #nodes: NodeConfig[] = []
  readonly #networks: NetworkConfig[] = []
  readonly #volumes: VolumeConfig[] = []

  constructor(opts: ValidateFactoryOptions) {
    this.#cwd = resolve(opts.cwd ?? process.cwd())
    this.#env = opts.env ?? process.env
    this.#unsOption = opts.uns
    this.#limits = { ...CONFIG_LIMITS, ...opts.limits }
    this.#signal = opts.signal
  }

  async read(paths: readonly string[]): Promise<ValidateFactoryResult> {
    this.#signal?.throwIfAborted()
    try {
      this.#env = await withOfaenv(this.#cwd, this.#env)
    } catch (err) {
      this.#fileProblem(`cannot read: ${(err as Error).message}`, { file: this.#display(join(this.#cwd, OFAENV_FILE)) })
    }
    const inputs = await this.#inputs(paths)
    const manifestPath = await this.#findManifest(inputs)
    const dir = manifestPath
      ? dirname(manifestPath)
      : (inputs.find((i) => i.type === 'dir')?.abs ?? (inputs[0] ? dirname(inputs[0].abs) : this.#cwd))
    await this.#readManifest(manifestPath, dir)
    const files = await this.#collectFiles(inputs, manifestPath)
    await this.#chooseUnsSchema(dir, files)
    // One file after the other: the bound on all files' bytes refuses the same file every time.
    for (const f of files) {
      await this.#pause()
      await this.#read(f)
    }
    const { configFiles, sections } = this.#classify(files, manifestPath)
    this.#buildUnsSchemas(sections)
    for (const s of sections) {
      if (s.kinds.has('devices')) await this.#checkDevices(s)
      if (s.kinds.has('apps')) await this.#checkApps(s)
      if (s.kinds.has('infrastructure')) this.#checkInfrastructure(s)
    }
    const schema = this.#schema
    const factory: Factory = {
      dir,
      manifest: this.#manifest,
      ...(schema ? { uns: schema } : {}),
      devices: this.#devices,
      apps: this.#apps,
      infrastructure: { nodes: this.#nodes, networks: this.#networks, volumes: this.#volumes },
      files: configFiles,
    }
    return {
      factory,
      problems: this.#sortedProblems(),
      warnings: this.#warnings.sort((a, b) => compareWhere(a.where, b.where)),
      skipped: [...this.#skipped].sort(),
    }
  }

  // --- helpers -------------------------------------------------------------------------------------------

  /** The path as messages print it: relative to cwd when inside it, characters unsafe on a terminal escaped. */
  #display(p: string): string {
    const r = relative(this.#cwd, p)
    return printable(r !== '' && !r.startsWith('..') && !isAbsolute(r) ? r : p)
  }

  #fileProblem(message: string, where: Where, code: 'OFA_CONFIG_FILE' | 'OFA_CONFIG_LIMIT' = 'OFA_CONFIG_FILE'): void {
    this.#problems.push(configProblem(code, message, where))
  }

  /** True when it is time to yield to the event loop (or the signal is aborted). */
  #due(): boolean {
    return this.#signal?.aborted === true || performance.now() - this.#lastYield >= YIELD_EVERY_MS
  }

  /** Yields to the event loop when the reader has worked for a while; throws the signal's reason on an abort. */
  async #pause(): Promise<void> {
    this.#signal?.throwIfAborted()
    if (!this.#due()) return
    await yieldToEventLoop()
    this.#lastYield = performance.now()
    this.#signal?.throwIfAborted()
  }

  #issue(src: SourceFile, code: Issue['code'], path: PathSegment[], message: string, anchor: Anchor = 'value'): void {
    this.#issues.push({ src, issue: { code, path, message, anchor } })
  }

  #warn(src: SourceFile, path: PathSegment[], message: string, anchor: Anchor = 'value'): void {
    const p = formatPath(path)
    this.#warnings.push(new ConfigWarning(printable(p ? `${p}: ${message}` : message), whereIn(src, path, anchor)))
  }

  /** Checks a value against a schema; its issues are kept with their file. */
  #check(src: SourceFile, schema: TSchema, value: unknown, path: PathSegment[]): unknown {
    const ctx = { dir: dirname(src.path), issues: [] as Issue[] }
    const out = checkValue(schema, value, path, ctx)
    for (const issue of ctx.issues) this.#issues.push({ src, issue })
    return out
  }

  /** True when an issue was found under one of `paths` since the `from`-th issue. */
  #issuesUnder(from: number, ...paths: PathSegment[][]): boolean {
    return this.#issues.slice(from).some((x) => paths.some((p) => isUnder(formatPath(x.issue.path), formatPath(p))))
  }

  #declared(src: SourceFile, path: PathSegment[]): Declared {
    return { file: src.path, where: whereIn(src, path, 'key') }
  }

  /** Remembers the first place of a value that must be unique; returns that place when `key` repeats it. */
  #seen(map: Map<string, FirstSeen>, key: string, src: SourceFile, path: PathSegment[]): string | undefined {
    const first = map.get(key)
    if (!first) {
      map.set(key, { src, path })
      return undefined
    }
    const w = whereIn(first.src, first.path, 'key')
    return `${formatPath(first.path)} (${w.file}:${w.line}:${w.column})`
  }

  async #read(abs: string): Promise<SourceFile | undefined> {
    const known = this.#sources.get(abs)
    if (known) return known
    const limits = this.#limits
    const file = this.#display(abs)
    let read: Awaited<ReturnType<typeof readBounded>>
    try {
      read = await readBounded(abs, limits.fileBytes)
    } catch (err) {
      this.#fileProblem(`cannot read: ${(err as Error).message}`, { file })
      return undefined
    }
    if ('tooLarge' in read) {
      const message = `the file is ${read.tooLarge} bytes, more than the limit of ${bytesText(limits.fileBytes)} per file: split it into several files`
      this.#fileProblem(message, { file }, 'OFA_CONFIG_LIMIT')
      return undefined
    }
    const total = this.#bytesRead + read.bytes.length
    if (total > limits.totalBytes) {
      const message = `reading this file (${read.bytes.length} bytes) would bring the factory's files to ${total} bytes, more than the limit of ${bytesText(limits.totalBytes)} for all files`
      this.#fileProblem(message, { file }, 'OFA_CONFIG_LIMIT')
      return undefined
    }
    this.#bytesRead = total
    const src = parseSource(read.bytes, { path: abs, display: file, env: this.#env, limits })
    this.#sources.set(abs, src)
    return src
  }

  #walk(folder: string): Promise<string[]> {
    return walkFolder(folder, {
      onError: (d, err) => this.#fileProblem(`cannot read folder: ${err.message}`, { file: this.#display(d) }),
      onSkip: (d) => this.#skipped.add(d),
      onFolder: () => this.#signal?.throwIfAborted(),
      // One past the limit is enough to know it is passed.
      budget: { left: this.#limits.files },
    })
  }

  /** The folder holding a `.ofa-skip` file that `p` is in (or is), below `base`; noted as skipped. */
  #skippedFolder(p: string, base: string): string | undefined {
    for (let d = p; d !== base && d.startsWith(`${base}/`); d = dirname(d)) {
      if (existsSync(join(d, SKIP_MARKER))) {
        this.#skipped.add(d)
        return d
      }
    }
    return undefined
  }

  get #schema(): UnsSchema | undefined {
    return typeof this.#uns.state === 'object' ? this.#uns.state : undefined
  }

  // --- phases --------------------------------------------------------------------------------------------

  async #inputs(paths: readonly string[]): Promise<{ abs: string; type: 'file' | 'dir' }[]> {
    const inputs: { abs: string; type: 'file' | 'dir' }[] = []
    for (const p of paths.length > 0 ? paths : ['.']) {
      const abs = resolve(this.#cwd, p)
      const type = await kindOfPath(abs)
      if (type === undefined) this.#fileProblem(`no such file or folder: ${p}`, { file: this.#display(abs) })
      else inputs.push({ abs, type })
    }
    return inputs
  }

  /** factory.yaml given as a file, else the first folder given that has one. */
  async #findManifest(inputs: readonly { abs: string; type: 'file' | 'dir' }[]): Promise<string | undefined> {
    const given = inputs.find((i) => i.type === 'file' && MANIFEST_NAMES.has(basename(i.abs)))
    if (given) return given.abs
    for (const i of inputs) {
      if (i.type !== 'dir') continue
      for (const name of MANIFEST_NAMES) {
        if ((await kindOfPath(resolve(i.abs, name))) === 'file') return resolve(i.abs, name)
      }
    }
    return undefined
  }

  /** Every setting without a problem is used, so that one bad setting does not hide the others (include, uns). */
  async #readManifest(manifestPath: string | undefined, dir: string): Promise<void> {
    const spec: Record<string, unknown> = {}
    const src = manifestPath ? await this.#read(manifestPath) : undefined
    this.#manifestSrc = src
    const v = src?.value
    if (src && v !== undefined && v !== null) {
      if (!isPlainObject(v)) {
        this.#issue(
          src,
          'OFA_CONFIG_TYPE',
          [],
          'a factory manifest is a map of settings (name, uns, backbone, topics, include)',
        )
      } else {
        // A backbone without a type is the embedded one.
        const b = v.backbone
        const value = isPlainObject(b) && b.type === undefined ? { ...v, backbone: { type: 'embedded', ...b } } : v
        const checked = validateValue(FactoryManifestSpec, value, [], dirname(src.path))
        for (const issue of checked.issues) this.#issues.push({ src, issue })
        const bad = (k: string) => checked.issues.some((i) => isUnder(formatPath(i.path), k))
        for (const [k, setting] of Object.entries(checked.value as Record<string, unknown>)) {
          if (!bad(k)) spec[k] = setting
        }
        if (bad('uns')) this.#uns.state = 'broken'
      }
    }
    this.#manifest = resolveManifest(spec as FactoryManifestSpec, dir, manifestPath)
  }

  /** The manifest's `include` (or its whole folder), plus the other files and folders given. */
  async #collectFiles(
    inputs: readonly { abs: string; type: 'file' | 'dir' }[],
    manifestPath?: string,
  ): Promise<string[]> {
    const manifest = this.#manifest
    const files: string[] = []
    const known = new Set<string>()
    const add = (p: string) => {
      if (p === manifestPath || known.has(p)) return
      known.add(p)
      files.push(p)
    }
    if (manifestPath && manifest.include) {
      const src = this.#manifestSrc
      // `include: x.yml` (one text) has no index.
      const listed = isPlainObject(src?.value) && Array.isArray(src.value.include)
      const where = (i: number): Where =>
        src ? whereIn(src, listed ? ['include', i] : ['include']) : { file: this.#display(manifestPath) }
      for (const [i, entry] of manifest.include.entries()) {
        const abs = resolve(manifest.dir, entry)
        let n = 0
        if (GLOB_CHARS.test(entry)) {
          try {
            for await (const m of glob(entry, { cwd: manifest.dir })) {
              this.#signal?.throwIfAborted()
              const p = resolve(manifest.dir, m)
              // A pattern does not name a folder holding .ofa-skip, nor what is in it.
              if (this.#skippedFolder(p, manifest.dir)) continue
              const t = await kindOfPath(p)
              if (t === 'dir') for (const f of await this.#walk(p)) add(f)
              else if (t === 'file' && YAML_FILE.test(p)) add(p)
              else continue
              n++
            }
          } catch {
            // An unreadable folder on the way: reported as matching nothing.
          }
          if (n === 0) this.#fileProblem(`include: ${entry} matches no file`, where(i))
        } else {
          const t = await kindOfPath(abs)
          if (t === 'dir') for (const f of await this.#walk(abs)) add(f)
          else if (t === 'file') add(abs)
          else this.#fileProblem(`include: no such file or folder: ${entry}`, where(i))
        }
      }
    } else if (manifestPath) {
      for (const f of await this.#walk(manifest.dir)) add(f)
    }
    for (const i of inputs) {
      if (i.type === 'file') add(i.abs)
      else if (!(manifestPath && i.abs === manifest.dir)) for (const f of await this.#walk(i.abs)) add(f)
    }
    const count = files.length + (manifestPath ? 1 : 0)
    if (count > this.#limits.files) {
      const message = `more than ${this.#limits.files} YAML files (the limit): give fewer files or folders, or split the factory`
      this.#fileProblem(message, { file: this.#display(manifest.dir) }, 'OFA_CONFIG_LIMIT')
      return []
    }
    for (const f of files) {
      if (!MANIFEST_NAMES.has(basename(f))) continue
      const theirs = manifestPath ? ` (the factory's is ${this.#display(manifestPath)})` : ''
      this.#fileProblem(`a second factory manifest${theirs}; give one factory at a time`, { file: this.#display(f) })
    }
    return files.filter((f) => !MANIFEST_NAMES.has(basename(f)))
  }

  /** Which UNS schema file applies; it joins the files to read. */
  async #chooseUnsSchema(dir: string, files: string[]): Promise<void> {
    const fromCwd = (p: string) => (URI.test(p) ? p : resolve(this.#cwd, p))
    const uns = this.#uns
    if (this.#unsOption !== undefined) {
      uns.path = fromCwd(this.#unsOption)
      uns.from = 'the uns option'
    } else if (this.#manifest.uns !== undefined) {
      uns.path = this.#manifest.uns
      uns.from = 'factory.yaml'
      if (this.#manifestSrc) uns.where = whereIn(this.#manifestSrc, ['uns'])
    } else if (this.#env.OPENFACTORY_UNS_SCHEMA) {
      uns.path = fromCwd(this.#env.OPENFACTORY_UNS_SCHEMA)
      uns.from = 'OPENFACTORY_UNS_SCHEMA'
    } else {
      for (const name of UNS_SCHEMA_NAMES) {
        if ((await kindOfPath(resolve(dir, name))) === 'file') {
          uns.path = resolve(dir, name)
          break
        }
      }
    }
    if (uns.path === undefined) return
    if (URI.test(uns.path)) {
      this.#fileProblem(
        `UNS schema ${uns.path} (from ${uns.from}): only local files are supported`,
        uns.where ?? { file: uns.path },
      )
      uns.state = 'broken'
    } else if ((await kindOfPath(uns.path)) !== 'file') {
      const display = this.#display(uns.path)
      this.#fileProblem(`UNS schema not found: ${display} (from ${uns.from})`, uns.where ?? { file: display })
      uns.state = 'broken'
    } else if (!files.includes(uns.path)) {
      files.push(uns.path)
    }
  }

  /** Tells each file's kinds from its top-level keys. */
  #classify(files: readonly string[], manifestPath?: string): { configFiles: ConfigFile[]; sections: Sections[] } {
    const configFiles: ConfigFile[] = []
    const sections: Sections[] = []
    if (manifestPath && this.#sources.has(manifestPath)) configFiles.push({ path: manifestPath, kinds: ['manifest'] })
    for (const f of files) {
      const src = this.#sources.get(f)
      if (!src) continue
      const v = src.value
      const kinds = new Set<ConfigKind>()
      if (isPlainObject(v)) {
        for (const k of Object.keys(v)) if (Object.hasOwn(SECTION_KINDS, k)) kinds.add(SECTION_KINDS[k]!)
      }
      configFiles.push({ path: f, kinds: [...kinds] })
      if (v === undefined) continue // broken YAML, already reported
      if (kinds.size === 0) {
        const what =
          v === null
            ? 'the file is empty'
            : isPlainObject(v)
              ? `top-level keys ${Object.keys(v).join(', ')}`
              : 'not a map'
        this.#issue(
          src,
          'OFA_CONFIG_KIND_UNKNOWN',
          [],
          `not a known kind of file (${what}): expected devices, apps, nodes/networks/volumes, or namespace_structure/uns_template`,
        )
        continue
      }
      const value = v as Record<string, unknown>
      for (const k of Object.keys(value)) {
        if (!Object.hasOwn(SECTION_KINDS, k)) {
          this.#issue(src, 'OFA_CONFIG_UNKNOWN_FIELD', [k], unknownFieldMessage(k, Object.keys(SECTION_KINDS)), 'key')
        }
      }
      sections.push({ src, value, kinds })
    }
    return { configFiles, sections }
  }

  /** Checks every UNS schema among the files; the one that applies places devices and apps. */
  #buildUnsSchemas(sections: readonly Sections[]): void {
    const uns = this.#uns
    for (const { src, value, kinds } of sections) {
      if (!kinds.has('uns-schema')) continue
      const picked: Record<string, unknown> = {}
      for (const k of ['namespace_structure', 'uns_template']) if (Object.hasOwn(value, k)) picked[k] = value[k]
      const spec = this.#check(src, UnsSchemaSpec, picked, [])
      if (spec === INVALID) {
        if (src.path === uns.path) uns.state = 'broken'
        continue
      }
      const built = buildUnsSchema(spec as UnsSchemaSpec, src.path)
      for (const issue of unsSchemaIssues(built.problems)) this.#issues.push({ src, issue })
      for (const w of built.warnings) this.#warn(src, [...w.path], w.message)
      if (src.path === uns.path) uns.state = built.schema ?? 'broken'
    }
    if (uns.path !== undefined && uns.state === 'none') {
      const src = this.#sources.get(uns.path)
      if (src?.value !== undefined) {
        this.#issue(
          src,
          'OFA_UNS_SCHEMA',
          [],
          `not a UNS schema (from ${uns.from}): expected namespace_structure and uns_template`,
        )
      }
      uns.state = 'broken'
    }
    this.#unsFound = sections.find((s) => s.kinds.has('uns-schema'))?.src.display
  }

  #unsFound?: string

  /**
   * Places an asset in the UNS. `base` is where its levels are written: its `uns` map, or the device itself
   * in the older format. Returns INVALID when the placement has problems (they are reported).
   */
  #place(
    src: SourceFile,
    path: PathSegment[],
    uuid: string,
    uns: Record<string, unknown> | undefined,
    base: PathSegment[],
  ): UnsPlacement | undefined | typeof INVALID {
    const schema = this.#schema
    if (!schema) {
      if (uns === undefined || Object.keys(uns).length === 0 || this.#uns.state === 'broken') return undefined
      const hint = this.#unsFound ? `; ${this.#unsFound} is one: name it with uns in factory.yaml or --uns` : ''
      this.#issue(
        src,
        'OFA_UNS_MISSING_SCHEMA',
        base,
        `UNS levels are given but no UNS schema applies (use --uns, uns in factory.yaml, OPENFACTORY_UNS_SCHEMA, or a uns_schema.yml in the factory folder${hint})`,
        'key',
      )
      return INVALID
    }
    const { placement, problems, warnings } = checkUnsPlacement(schema, uuid, uns)
    for (const w of warnings) this.#warn(src, [...base, w.level!], w.message, 'key')
    for (const p of problems) {
      if (p.level === undefined) this.#issue(src, 'OFA_UNS_INVALID', base, p.message, 'key')
      else if (p.level === 'asset' && uns?.asset === undefined) {
        this.#issue(src, 'OFA_UNS_INVALID', [...path, 'uuid'], `uns.asset: ${p.message}`)
      } else {
        const known = schema.template.includes(p.level) && p.level !== 'attribute'
        this.#issue(src, 'OFA_UNS_INVALID', [...base, p.level], p.message, known ? 'value' : 'key')
      }
    }
    return placement ?? INVALID
  }

  /** Notes an asset's uuid (devices and apps share one space); a repeated one is a problem. */
  #noteUuid(src: SourceFile, path: PathSegment[], raw: unknown): void {
    if (!isPlainObject(raw) || typeof raw.uuid !== 'string') return
    const first = this.#seen(this.#uuids, raw.uuid, src, path)
    if (first) {
      this.#issue(
        src,
        'OFA_CONFIG_DUPLICATE_UUID',
        [...path, 'uuid'],
        `uuid ${JSON.stringify(raw.uuid)} is already used by ${first}`,
      )
    }
  }

  /** The entries of a `devices:` or `apps:` section, or nothing (with a problem) when it is not a map. */
  #entries(src: SourceFile, value: unknown, section: string): [string, unknown][] {
    if (isPlainObject(value)) return Object.entries(value)
    if (value !== null)
      this.#issue(src, 'OFA_CONFIG_TYPE', [section], `expected a map of ${section}, got ${describeValue(value)}`)
    return []
  }

  async #checkDevices({ src, value }: Sections): Promise<void> {
    const schema = this.#schema
    for (const [name, raw] of this.#entries(src, value.devices, 'devices')) {
      if (this.#due()) await this.#pause()
      const path = ['devices', name]
      this.#noteUuid(src, path, raw)
      let entry = raw
      let legacyLevels: Record<string, unknown> | undefined
      if (
        schema &&
        isPlainObject(raw) &&
        raw.connector === undefined &&
        raw.agent !== undefined &&
        raw.uns === undefined
      ) {
        // The older format wrote UNS levels as keys of the device itself.
        const levels = schema.template.filter(
          (t) => t !== 'attribute' && !Object.hasOwn(DeviceSpecSchema.properties, t),
        )
        const found = Object.entries(raw).filter(([k]) => levels.includes(k))
        if (found.length > 0) {
          legacyLevels = Object.fromEntries(found)
          entry = Object.fromEntries(Object.entries(raw).filter(([k]) => !levels.includes(k)))
        }
      }
      const before = this.#issues.length
      const spec = this.#check(src, DeviceSpecSchema, entry, path) as DeviceSpec | typeof INVALID
      const uuid = isPlainObject(raw) && typeof raw.uuid === 'string' ? raw.uuid : undefined
      let placement: UnsPlacement | undefined | typeof INVALID
      if (uuid !== undefined && !this.#issuesUnder(before, [...path, 'uns'], [...path, 'uuid'])) {
        const uns = legacyLevels ?? (isPlainObject(raw) && isPlainObject(raw.uns) ? raw.uns : undefined)
        placement = this.#place(src, path, uuid, uns, legacyLevels ? path : [...path, 'uns'])
      }
      if (spec === INVALID || placement === INVALID) continue
      const connector = (spec.connector ?? {
        type: 'mtconnect',
        agent: spec.agent as MTConnectAgent,
      }) as ConnectorConfig
      this.#devices.push({
        ...this.#declared(src, path),
        name,
        uuid: spec.uuid,
        connector,
        ...(placement ? { uns: placement } : {}),
        legacyFormat: spec.connector === undefined,
        spec,
      })
    }
  }

  async #checkApps({ src, value }: Sections): Promise<void> {
    for (const [name, raw] of this.#entries(src, value.apps, 'apps')) {
      if (this.#due()) await this.#pause()
      const path = ['apps', name]
      this.#noteUuid(src, path, raw)
      const before = this.#issues.length
      const spec = this.#check(src, AppSpecSchema, raw, path) as AppSpec | typeof INVALID
      const uuid = isPlainObject(raw) && typeof raw.uuid === 'string' ? raw.uuid : undefined
      let placement: UnsPlacement | undefined | typeof INVALID
      if (uuid !== undefined && !this.#issuesUnder(before, [...path, 'uns'], [...path, 'uuid'])) {
        const uns = isPlainObject(raw) && isPlainObject(raw.uns) ? raw.uns : undefined
        placement = this.#place(src, path, uuid, uns, [...path, 'uns'])
      }
      if (spec === INVALID || placement === INVALID) continue
      this.#apps.push({
        ...this.#declared(src, path),
        name,
        uuid: spec.uuid,
        ...(placement ? { uns: placement } : {}),
        spec,
      })
    }
  }

  /** Nodes, networks and volumes; IPs and names are unique across every infrastructure file. */
  #checkInfrastructure({ src, value }: Sections): void {
    const uniqueName = (kind: string, name: string, path: PathSegment[]): boolean => {
      const first = this.#seen(this.#names, `${kind}\u0000${name}`, src, path)
      if (first) this.#issue(src, 'OFA_CONFIG_VALUE', path, `${kind} ${name} is already defined at ${first}`, 'key')
      return first === undefined
    }
    if (value.nodes !== undefined && value.nodes !== null) {
      const out = this.#check(src, NodesSpec, value.nodes, ['nodes'])
      const raw = isPlainObject(value.nodes) ? value.nodes : {}
      for (const role of ['managers', 'workers'] as const) {
        const group = raw[role]
        if (!isPlainObject(group)) continue
        for (const [name, node] of Object.entries(group)) {
          const path = ['nodes', role, name]
          const fresh = uniqueName('node', name, path)
          const ip = isPlainObject(node) && typeof node.ip === 'string' ? canonicalIp(node.ip) : undefined
          const first = ip === undefined ? undefined : this.#seen(this.#ips, ip, src, path)
          if (first)
            this.#issue(src, 'OFA_CONFIG_DUPLICATE_IP', [...path, 'ip'], `ip ${ip} is already used by ${first}`)
          const valid =
            out === INVALID ? undefined : (out as Record<string, Record<string, SwarmNodeSpec>>)[role]?.[name]
          if (!valid || !fresh) continue
          const nodeRole = role === 'managers' ? 'manager' : 'worker'
          this.#nodes.push({
            ...this.#declared(src, path),
            name,
            role: nodeRole,
            ip: valid.ip,
            labels: valid.labels ?? {},
          })
        }
      }
    }
    if (value.networks !== undefined && value.networks !== null) {
      const out = this.#check(src, NetworksSpec, value.networks, ['networks'])
      for (const name of isPlainObject(value.networks) ? Object.keys(value.networks) : []) {
        const fresh = uniqueName('network', name, ['networks', name])
        const spec = out === INVALID ? undefined : (out as Record<string, NetworkSpec>)[name]
        if (spec && fresh) this.#networks.push({ ...this.#declared(src, ['networks', name]), name, spec })
      }
    }
    if (value.volumes !== undefined && value.volumes !== null) {
      const out = this.#check(src, VolumesSpec, value.volumes, ['volumes'])
      for (const name of isPlainObject(value.volumes) ? Object.keys(value.volumes) : []) {
        const fresh = uniqueName('volume', name, ['volumes', name])
        if (out === INVALID || !fresh) continue
        const driverOpts = (out as Record<string, VolumeSpec>)[name]?.driver_opts ?? {}
        this.#volumes.push({ ...this.#declared(src, ['volumes', name]), name, driverOpts })
      }
    }
  }

  /** Every problem, those caused by an unset variable already reported left out, sorted by place. */
  #sortedProblems(): OpenFactoryError[] {
    const problems = [...this.#problems]
    for (const { src, issue } of this.#issues) {
      if (!underUnset(src, issue.path)) problems.push(issueToError(src, issue))
    }
    for (const src of this.#sources.values()) problems.push(...src.problems)
    return problems.sort((a, b) => compareWhere(a.where, b.where))
  }
}

/** True when a field path is one whose value used an unset variable, or inside one: its ancestors are looked up. */
function underUnset(src: SourceFile, path: readonly PathSegment[]): boolean {
  if (src.unsetPaths.size === 0) return false
  for (let i = 0; i <= path.length; i++) if (src.unsetPaths.has(formatPath(path.slice(0, i)))) return true
  return false
}

/** File, then line, then column. */
function compareWhere(a: Where | undefined, b: Where | undefined): number {
  const fa = a?.file ?? ''
  const fb = b?.file ?? ''
  if (fa !== fb) return fa < fb ? -1 : 1
  return (a?.line ?? 0) - (b?.line ?? 0) || (a?.column ?? 0) - (b?.column ?? 0)
}
