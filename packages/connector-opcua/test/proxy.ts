// A TCP proxy on loopback between a client and a server, for network faults: `cut()` stops carrying bytes in
// both directions without closing anything (a cable pulled, a switch gone: the peers see silence, not a FIN),
// `mend()` carries them again on new connections (the old ones stay dead, as after a real loss).
import net from 'node:net'
import type { TestContext } from 'node:test'

export interface Proxy {
  /** `opc.tcp://127.0.0.1:<port><path>`: the server's endpoint through the proxy. */
  readonly endpoint: string
  cut(): void
  mend(): void
}

export async function startProxy(t: TestContext, target: string): Promise<Proxy> {
  const url = new URL(target.replace(/^opc\.tcp:/, 'http:'))
  const sockets = new Set<net.Socket>()
  let cut = false
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    if (cut) return // accepted, then silence
    const upstream = net.connect({ host: url.hostname, port: Number(url.port) })
    sockets.add(upstream)
    upstream.on('close', () => {
      sockets.delete(upstream)
      if (!cut) client.destroy()
    })
    upstream.on('error', () => {})
    client.on('close', () => {
      if (!cut) upstream.destroy()
    })
    client.on('data', (d) => {
      if (!cut) upstream.write(d)
    })
    upstream.on('data', (d) => {
      if (!cut) client.write(d)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  })
  return {
    endpoint: `opc.tcp://127.0.0.1:${port}${url.pathname}`,
    cut() {
      cut = true
    },
    mend() {
      cut = false
      // What was open during the cut stays dead, as after a real loss.
      for (const s of sockets) s.destroy()
    },
  }
}
