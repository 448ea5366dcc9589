/**
 * The owner lock of a data directory: one writing process at a time.
 *
 * The lock is an SQLite database (`<dir>/lock`) held inside `BEGIN EXCLUSIVE` for as long as the log is open.
 * SQLite takes POSIX `fcntl` locks for that, and the kernel drops those locks when the process ends — however
 * it ends, `kill -9` included — so a crash never leaves a stale lock behind. SQLite also refuses a second
 * exclusive transaction inside the same process, and a set of held directories makes that case's message
 * clearer. `owner.json` beside it only says who holds the lock (for error messages); it decides nothing.
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

  /** Takes the lock or throws `OFA_LOG_LOCKED` naming the owner. */
  static acquire(dir: string): DirLock {
    const key = fs.realpathSync(dir)
    if (held.has(key)) {
      throw new OpenFactoryError(
        'OFA_LOG_LOCKED',
        `the event log in ${dir} is already open for writing in this process`,
      )
    }
    let db: DatabaseSync | undefined
    try {
      db = new DatabaseSync(path.join(dir, 'lock'), { timeout: 0 })
      db.exec('BEGIN EXCLUSIVE')
    } catch (err) {
      db?.close()
      const message = (err as Error).message ?? ''
      if (/locked|busy/i.test(message)) {
        throw new OpenFactoryError(
          'OFA_LOG_LOCKED',
          `the event log in ${dir} is owned by another process${describeOwner(dir)}; open it read-only or stop that process`,
          { cause: err },
        )
      }
      throw new OpenFactoryError('OFA_LOG_IO', `cannot lock ${dir}: ${message}`, { cause: err })
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
    return new DirLock(db, key)
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
