// What the scripts that run a local server (Mosquitto, PostgreSQL, an OPC UA server, the MTConnect agent) share:
// whether a port is free, a free port from a base, and whether a pid is still the process they started.
import fs from 'node:fs'
import net from 'node:net'

/** True when `host:port` can be bound exclusively now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** The first port from `base` (500 tried) that no state of the script records (`taken`) and that is free. */
export async function pickFreePort(host: string, base: number, taken: ReadonlySet<number | undefined>, what: string) {
  for (let port = base; port < base + 500; port++) {
    if (!taken.has(port) && (await canBind(host, port))) return port
  }
  throw new Error(`no free port found for ${what}`)
}

/**
 * The command line of `pid` (its arguments), or null when it does not run or is a zombie: for telling the process
 * a script started from a recycled pid.
 */
export function liveArgv(pid: number | null): string[] | null {
  if (!pid) return null
  try {
    if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return null
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return null
  }
}
