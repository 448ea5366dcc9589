/**
 * The owner lock of a data directory: one writing process at a time.
 *
 * The lock is an SQLite database (`<dir>/lock`) held inside `BEGIN EXCLUSIVE` for as long as the log is open.
 * SQLite takes POSIX `fcntl` locks for that, and the kernel drops those locks when the process ends — however
 * it ends, `kill -9` included — so a crash never leaves a stale lock behind. SQLite also refuses a second
 * exclusive transaction inside the same process, and a set of held directories makes that case's message
 * clearer. `owner.json` beside it only says who holds the lock (for error messages); it decides nothing.
 *
 * The lock file holds no data (SQLite never writes to it: the transaction stays empty). When it is damaged (not an
 * SQLite database: SQLite refuses to lock it), it is moved aside as `lock.damaged` and a new one is made — but only
 * when no process holds a lock on it (Linux lists them in /proc/locks) and no running process is named as its
 * owner; otherwise that process still owns the directory (`OFA_LOG_LOCKED`), or, where it cannot be known,
 * `OFA_LOG_CORRUPT` says what to do.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { OpenFactoryError } from '@openfactory/model'

const held = new Set<string>()

export class DirLock {
  readonly #db: DatabaseSync
  readonly #key: string
  #released = false

  private constructor(db: DatabaseSync, key: string) {
    this.#db = db
    this.#key = key
  }

  /**
   * Takes the lock or throws `OFA_LOG_LOCKED` naming the owner. A damaged lock file is replaced (see above) and
   * `onReplaced` hears where the damaged one went; `trustOwnerFile: false` (repair, run by someone who checked)
   * replaces it even when owner.json names a running process.
   */
  static acquire(
    dir: string,
    opts: { onReplaced?: (warning: OpenFactoryError) => void; trustOwnerFile?: boolean } = {},
  ): DirLock {
    const key = fs.realpathSync(dir)
    if (held.has(key)) {
      throw new OpenFactoryError(
        'OFA_LOG_LOCKED',
        `the event log in ${dir} is already open for writing in this process`,
      )
    }
    const file = path.join(dir, 'lock')
    let db: DatabaseSync | undefined
    for (let attempt = 0; ; attempt++) {
      try {
        db = new DatabaseSync(file, { timeout: 0 })
        db.exec('BEGIN EXCLUSIVE')
        break
      } catch (err) {
        db?.close()
        db = undefined
        const message = (err as Error).message ?? ''
        if (/locked|busy/i.test(message)) {
          throw new OpenFactoryError(
            'OFA_LOG_LOCKED',
            `the event log in ${dir} is owned by another process${describeOwner(dir)}; open it read-only or stop that process`,
            { cause: err },
          )
        }
        if (attempt === 0 && /not a database|malformed|encrypted/i.test(message)) {
          const movedTo = replaceDamagedLock(dir, file, opts.trustOwnerFile ?? true, err)
          opts.onReplaced?.(
            new OpenFactoryError(
              'OFA_LOG_CORRUPT',
              `the lock file of ${dir} was damaged (${message}) and no process held it; moved aside to ${movedTo} and replaced`,
              { where: { file } },
            ),
          )
          continue
        }
        throw new OpenFactoryError('OFA_LOG_IO', `cannot lock ${dir}: ${message}`, { cause: err, where: { file } })
      }
    }
    held.add(key)
    try {
      fs.writeFileSync(
        path.join(dir, 'owner.json'),
        `${JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() })}\n`,
      )
    } catch {
      // Informative only.
    }
    return new DirLock(db as DatabaseSync, key)
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    held.delete(this.#key)
    try {
      this.#db.exec('ROLLBACK')
    } catch {
      // Closing releases the lock anyway.
    }
    this.#db.close()
  }
}

/**
 * Moves a damaged lock file aside when nobody can hold it; throws when someone may. Returns the new name.
 */
function replaceDamagedLock(dir: string, file: string, trustOwnerFile: boolean, cause: unknown): string {
  const holders = lockHolders(file)
  if (holders === null) {
    throw new OpenFactoryError(
      'OFA_LOG_CORRUPT',
      `the lock file ${file} is damaged (not an SQLite database), and this system does not list file locks, so it cannot be told whether a process owns ${dir}; stop every process using it, delete ${file}, and open it again`,
      { where: { file }, cause },
    )
  }
  if (holders.length > 0) {
    throw new OpenFactoryError(
      'OFA_LOG_LOCKED',
      `the event log in ${dir} is owned by process ${holders.join(', ')} (its lock file is damaged; it is replaced once that process stops)`,
      { where: { file }, cause },
    )
  }
  const owner = readOwner(dir)
  if (
    trustOwnerFile &&
    owner &&
    owner.host === os.hostname() &&
    typeof owner.pid === 'number' &&
    owner.pid !== process.pid &&
    isRunning(owner.pid)
  ) {
    throw new OpenFactoryError(
      'OFA_LOG_LOCKED',
      `the lock file ${file} is damaged and owner.json names process ${owner.pid}, which is running; stop it, or if it does not use ${dir}, run "ofa log repair"`,
      { where: { file }, cause },
    )
  }
  let target = `${file}.damaged`
  for (let n = 1; fs.existsSync(target); n++) target = `${file}.damaged.${n}`
  fs.renameSync(file, target)
  return target
}

/** The pids holding a POSIX lock on `file` (from /proc/locks), or null where the system does not list them. */
function lockHolders(file: string): number[] | null {
  let text: string
  let ino: number
  try {
    text = fs.readFileSync('/proc/locks', 'utf8')
    ino = fs.statSync(file).ino
  } catch {
    return null
  }
  const pids = new Set<number>()
  for (const line of text.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 702 fe:00:9977882 1073741824 1073742335" (waiters carry a "->" first)
    const f = line.replace('->', '').trim().split(/\s+/)
    const dev = f[5]?.split(':')
    if (dev && Number(dev[2]) === ino && f[1] === 'POSIX') pids.add(Number(f[4]))
  }
  pids.delete(process.pid)
  return [...pids]
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readOwner(dir: string): { pid?: number; host?: string; since?: string } | null {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8'))
    return o !== null && typeof o === 'object' ? o : null
  } catch {
    return null
  }
}

function describeOwner(dir: string): string {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as {
      pid?: number
      host?: string
      since?: string
    }
    return ` (pid ${o.pid} on ${o.host}, since ${o.since})`
  } catch {
    return ''
  }
}
