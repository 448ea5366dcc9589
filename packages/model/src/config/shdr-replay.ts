/**
 * Our SHDR replay adapter: a device whose MTConnect adapter is `image: openfactory/shdr-replay` gets an adapter
 * that `ofa up` runs itself, replaying a recorded SHDR log. Its settings are the adapter's `environment`:
 *
 * - `SHDR_FILE`  the SHDR log, relative to the device file (required);
 * - `SHDR_SPEED` a positive number: 1 plays the log at its own pace, 10 ten times faster (default 1);
 * - `SHDR_LOOP`  `true` or `false` — or yes/no, on/off, 1/0 in any case, as booleans elsewhere in the files —
 *   whether to start again at the end (default true).
 *
 * A variable given twice counts once, the last (as Docker reads an environment list). This is the one reading of
 * these settings: validation reports its problems at their entries (device-schema.ts), and the runtime that
 * starts the adapter takes its settings from here, so what `ofa validate` accepts is what `ofa up` plays.
 */
import { statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { describeValue, laxValue } from './check-value.ts'

/** The image name of our replay adapter (a tag, `:1.0`, may follow). */
export const SHDR_REPLAY_IMAGE = 'openfactory/shdr-replay'

/** True for `openfactory/shdr-replay` with or without a tag. */
export function isShdrReplayImage(image: string): boolean {
  return image.replace(/:[^/:]*$/, '') === SHDR_REPLAY_IMAGE
}

export interface ShdrReplaySettings {
  /** The SHDR log; absolute when `dir` was given. Undefined when SHDR_FILE is missing (a problem says so). */
  readonly file?: string
  readonly speed: number
  readonly loop: boolean
}

export interface ShdrReplayProblem {
  readonly variable: 'SHDR_FILE' | 'SHDR_SPEED' | 'SHDR_LOOP'
  /** The index of the entry in the environment list; undefined when the variable is missing. */
  readonly index?: number
  readonly code: 'OFA_CONFIG_VALUE' | 'OFA_CONFIG_MISSING_FIELD' | 'OFA_CONFIG_FILE'
  /** Starts with the variable's name: `SHDR_SPEED: expected a positive number ..., got "abc"`. */
  readonly message: string
}

const NUMBER_TEXT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/

/**
 * The replay settings of an adapter's environment (`["NAME=value", ...]`), and its problems. `dir` is the folder
 * of the device file: SHDR_FILE is resolved from it and must be a file there.
 */
export function readShdrReplayEnvironment(
  environment: readonly string[] | undefined,
  opts: { readonly dir?: string } = {},
): { settings: ShdrReplaySettings; problems: ShdrReplayProblem[] } {
  const last = new Map<string, { value: string; index: number }>()
  for (const [index, entry] of (environment ?? []).entries()) {
    const eq = entry.indexOf('=')
    if (eq > 0) last.set(entry.slice(0, eq), { value: entry.slice(eq + 1), index })
  }
  const problems: ShdrReplayProblem[] = []
  let file: string | undefined
  const fileEntry = last.get('SHDR_FILE')
  if (fileEntry === undefined) {
    problems.push({
      variable: 'SHDR_FILE',
      code: 'OFA_CONFIG_MISSING_FIELD',
      message: `the ${SHDR_REPLAY_IMAGE} adapter needs SHDR_FILE=<the SHDR log to replay, relative to this file>`,
    })
  } else if (fileEntry.value.trim() === '') {
    problems.push({
      variable: 'SHDR_FILE',
      index: fileEntry.index,
      code: 'OFA_CONFIG_VALUE',
      message: 'SHDR_FILE: must not be empty',
    })
  } else {
    file = opts.dir === undefined || isAbsolute(fileEntry.value) ? fileEntry.value : resolve(opts.dir, fileEntry.value)
    if (opts.dir !== undefined && !isFile(file)) {
      problems.push({
        variable: 'SHDR_FILE',
        index: fileEntry.index,
        code: 'OFA_CONFIG_FILE',
        message: `SHDR_FILE: file not found: ${fileEntry.value}`,
      })
    }
  }
  let speed = 1
  const speedEntry = last.get('SHDR_SPEED')
  if (speedEntry !== undefined) {
    const n = NUMBER_TEXT.test(speedEntry.value) ? Number(speedEntry.value) : Number.NaN
    if (Number.isFinite(n) && n > 0) speed = n
    else {
      problems.push({
        variable: 'SHDR_SPEED',
        index: speedEntry.index,
        code: 'OFA_CONFIG_VALUE',
        message: `SHDR_SPEED: expected a positive number (1 plays the log at its own pace, 10 ten times faster), got ${describeValue(speedEntry.value)}`,
      })
    }
  }
  let loop = true
  const loopEntry = last.get('SHDR_LOOP')
  if (loopEntry !== undefined) {
    const b = laxValue('boolean', loopEntry.value)
    if (typeof b === 'boolean') loop = b
    else {
      problems.push({
        variable: 'SHDR_LOOP',
        index: loopEntry.index,
        code: 'OFA_CONFIG_VALUE',
        message: `SHDR_LOOP: expected true or false, got ${describeValue(loopEntry.value)}`,
      })
    }
  }
  return { settings: { ...(file === undefined ? {} : { file }), speed, loop }, problems }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile()
  } catch {
    return false
  }
}
