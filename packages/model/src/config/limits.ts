/**
 * The bounds of configuration loading: what a factory's files may weigh, how many there may be, how deep their
 * YAML may nest and how much its aliases may expand. Past each, loading answers `OFA_CONFIG_LIMIT` naming the
 * file (and, where it applies, the line and column) instead of running out of memory or stack. The defaults are
 * documented in docs/reference/config.md ("Limits"); programs may lower or raise them
 * (`validateFactory(paths, {limits})`).
 */

export interface ConfigLimits {
  /** Bytes of one file. A larger file is refused before it is read. */
  readonly fileBytes: number
  /** Bytes of all the files of one factory together; the file that would pass the bound is refused. */
  readonly totalBytes: number
  /** YAML files in one factory (the manifest included); past it no file is read. */
  readonly files: number
  /** Maps and lists nested in one another, counted through aliases. */
  readonly depth: number
  /** Nodes (maps, lists, values) that aliases may add to one file, each use of an anchor counted as a copy. */
  readonly aliasNodes: number
}

const MiB = 1024 * 1024

/**
 * Memory sets the sizes: the YAML library's syntax tree and document take about 90 bytes per byte of a file
 * while it is read, and the documents stay until every problem is placed. Measured for issue 10 (2 cores,
 * generated files of mixed devices, about 180 bytes each): one file of 15.6 MiB (92 000 devices) validated in
 * 12.5 s with a peak of 1.5 GB RSS; 64 000 devices in 100 files, 10 s and 0.8 GB. 16 MiB per file and 32 MiB in
 * all (about 190 000 such devices) keep a factory under about 2 GB. 64 levels is ten times the deepest reference
 * format (an app's `deploy.resources.limits.memory` sits at level 6).
 */
export const CONFIG_LIMITS: ConfigLimits = Object.freeze({
  fileBytes: 16 * MiB,
  totalBytes: 32 * MiB,
  files: 10_000,
  depth: 64,
  aliasNodes: 1_000_000,
})

/** `16777216 bytes (16 MiB)`: a byte count as messages give it. */
export function bytesText(n: number): string {
  return n % MiB === 0 ? `${n} bytes (${n / MiB} MiB)` : `${n} bytes`
}
