// A lock file for scripts that several test processes may run at once (starting a Kafka cluster or an OPC UA server,
// installing a venv): the first takes `dir/.name.lock` holding its pid; the others wait for it, and take over a
// lock whose process is gone.
import fs from 'node:fs'
import path from 'node:path'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Runs `fn` holding the lock file `dir/.name.lock`, waiting (up to 5 minutes) while a live process holds it. */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(dir, { recursive: true })
  const lock = path.join(dir, `.${name}.lock`)
  const deadline = Date.now() + 300_000
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = Number(fs.readFileSync(lock, 'utf8') || 0)
      if (!owner || !alive(owner)) {
        fs.rmSync(lock, { force: true })
        continue
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by process ${owner}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(lock, { force: true })
  }
}
