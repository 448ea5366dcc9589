// File-system helpers on the callback API (fewer allocations than fs/promises on the hot paths).
import fs from 'node:fs'
import path from 'node:path'

export function openFile(file: string, flags: string | number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, 0o644, (err, fd) => (err ? reject(err) : resolve(fd))))
}

export function closeFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())))
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())))
}

export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())))
}

export function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))))
}

export function ftruncate(fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, (err) => (err ? reject(err) : resolve())))
}

/** Writes all of `buf` at `position` (loops over short writes). */
export function writeAll(fd: number, buf: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0
    const step = (): void => {
      fs.write(fd, buf, done, buf.byteLength - done, position + done, (err, n) => {
        if (err) return reject(err)
        done += n
        if (done >= buf.byteLength) resolve()
        else if (n === 0) reject(new Error('write made no progress'))
        else step()
      })
    }
    step()
  })
}

/** Reads up to `length` bytes at `position` into a new buffer; the result is shorter at the end of the file. */
export function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    const step = (): void => {
      fs.read(fd, buf, done, length - done, position + done, (err, n) => {
        if (err) return reject(err)
        done += n
        if (n === 0 || done >= length) resolve(done === length ? buf : buf.subarray(0, done))
        else step()
      })
    }
    step()
  })
}

/** Makes a directory entry durable (a created, renamed or deleted file). */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openFile(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    await fsyncFd(fd)
  } finally {
    await closeFile(fd)
  }
}

/**
 * Replaces `file` with `data` atomically and durably: temp file, fsync, rename, fsync of the directory. A failed
 * attempt removes its temporary file (on a full disk it would hold space that the next attempt needs).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`
  try {
    const fd = await openFile(tmp, 'w')
    try {
      await writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data, 0)
      await fsyncFd(fd)
    } finally {
      await closeFile(fd)
    }
    await fs.promises.rename(tmp, file)
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {})
    throw err
  }
  await fsyncDir(path.dirname(file))
}

/**
 * Creates `dir` and its missing parents, one level at a time: at most one `mkdir` per missing level and one more
 * try of the last, so a file system that answers oddly (under /proc a `mkdir` fails with ENOENT although the
 * parent exists — Node's own `recursive: true` then retries for ever at 100 % CPU) gets its error reported.
 * Returns whether `dir` was created.
 */
export async function mkdirp(dir: string): Promise<boolean> {
  try {
    await fs.promises.mkdir(dir)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      const st = await fs.promises.stat(dir)
      if (st.isDirectory()) return false
      throw Object.assign(new Error(`EEXIST: ${dir} exists and is not a directory`), { code: 'ENOTDIR', path: dir })
    }
    const parent = path.dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw err
    await mkdirp(parent)
    await fs.promises.mkdir(dir) // once: a second ENOENT is this file system's answer, not a missing parent
    return true
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.promises.access(file)
    return true
  } catch {
    return false
  }
}

/** Writes all of `bufs`, one after the other, at `position` with one `writev` (loops over short writes). */
export function writevAll(fd: number, bufs: readonly Buffer[], position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let total = 0
    for (const b of bufs) total += b.length
    let done = 0
    let rest: Buffer[] = bufs as Buffer[]
    const step = (): void => {
      fs.writev(fd, rest, position + done, (err, n) => {
        if (err) return reject(err)
        done += n
        if (done >= total) return resolve()
        if (n === 0) return reject(new Error('write made no progress'))
        // A short write: go on from the first byte not written.
        let skip = done
        const next: Buffer[] = []
        for (const b of bufs) {
          if (skip >= b.length) skip -= b.length
          else {
            next.push(skip > 0 ? b.subarray(skip) : b)
            skip = 0
          }
        }
        rest = next
        step()
      })
    }
    step()
  })
}
