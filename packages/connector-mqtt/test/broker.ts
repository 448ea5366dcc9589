// The Mosquitto brokers the MQTT tests talk to (Debian's, started by scripts/mosquitto.ts) and Debian's mosquitto_pub
// as a publisher we did not write. Under `npm test`, scripts/test.ts starts the broker `test` once and passes its URL
// in OFA_MQTT_URL; run alone (`npx node --test packages/connector-mqtt/test/*.test.ts`), the tests start it here.
// A test that stops or restarts its broker starts a private one, stopped and deleted after the test.
import { spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { type BrokerState, start, stop } from '../../../scripts/mosquitto.ts'

export interface Broker {
  readonly name: string
  readonly url: string
  readonly port: number
  /** The CA file (PEM) that signed the broker's certificate, when its listener is TLS (mqtts://). */
  readonly ca?: string
  /** A client certificate signed by that CA and its key (PEM files), for a broker that requires one (mutual TLS). */
  readonly clientCert?: string
  readonly clientKey?: string
  /** The broker's log file (a broker started here). */
  readonly log?: string
}

let shared: Promise<Broker> | undefined

/** The shared broker (OFA_MQTT_URL, else the broker `test` started here). */
export function sharedBroker(): Promise<Broker> {
  shared ??= (async () => {
    const url = process.env.OFA_MQTT_URL
    if (url) return { name: 'test', url, port: Number(new URL(url).port) }
    if (process.env.CI)
      throw new Error('OFA_MQTT_URL is not set: the MQTT tests need the broker scripts/test.ts starts')
    return toBroker(await start({ name: 'test' }))
  })()
  return shared
}

function toBroker(s: BrokerState): Broker {
  return {
    name: s.name,
    url: s.url,
    port: s.port,
    log: s.log,
    ...(s.tls ? { ca: s.tls.ca, clientCert: s.tls.clientCert, clientKey: s.tls.clientKey } : {}),
  }
}

/**
 * What a private broker is started with: a TLS listener, one that requires a client certificate signed by its CA
 * (mutual TLS), a password file (name → password, anonymous refused).
 */
export interface PrivateBrokerOptions {
  readonly tls?: boolean
  readonly requireCertificate?: boolean
  readonly users?: Readonly<Record<string, string>>
}

let count = 0

/** A broker of this test alone (to stop and restart), stopped and deleted after the test. */
export async function privateBroker(t: TestContext, opts: PrivateBrokerOptions = {}): Promise<Broker> {
  const name = `private-${process.pid}-${++count}`
  t.after(() => stop(name, true))
  return toBroker(await start({ name, ...opts }))
}

/** Stops a broker (SIGTERM: Mosquitto writes its persistence file) and starts it again on the same port. */
export async function restartBroker(b: Broker): Promise<void> {
  await stop(b.name)
  await start({ name: b.name, port: b.port })
}

export async function stopBroker(b: Broker): Promise<void> {
  await stop(b.name)
}

/** A topic prefix no other test uses. */
export function uniqueTopic(): string {
  return `ofa-test/${process.pid}/${++count}/${Math.random().toString(36).slice(2, 8)}`
}

/**
 * Publishes `messages` to `topic` with Debian's mosquitto_pub (one connection; `-l` publishes each stdin line as a
 * message), QoS `qos`, MQTT `version` (mqttv311 or mqttv5), over TLS when the broker is (`ca` pinned, our client
 * certificate offered), with a user name and password when given; resolves when it exits 0.
 */
export function mosquittoPub(
  b: Broker,
  topic: string,
  messages: readonly string[],
  opts: { qos?: 0 | 1 | 2; version?: 'mqttv311' | 'mqttv5'; username?: string; password?: string } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-h', '127.0.0.1', '-p', String(b.port), '-t', topic, '-q', String(opts.qos ?? 1)]
    args.push('-V', opts.version ?? 'mqttv311', '-l')
    if (b.ca) args.push('--cafile', b.ca)
    // Sent only to a broker that asks for a client certificate (mutual TLS).
    if (b.clientCert && b.clientKey) args.push('--cert', b.clientCert, '--key', b.clientKey)
    if (opts.username !== undefined) args.push('-u', opts.username)
    if (opts.password !== undefined) args.push('-P', opts.password)
    const child = spawn('mosquitto_pub', args, { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}: ${err}`))))
    child.stdin.end(messages.map((m) => `${m}\n`).join(''))
  })
}
