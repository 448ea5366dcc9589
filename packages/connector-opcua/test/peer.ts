// Test helpers: the OPC UA servers the OPC UA tests run against, and clients that close after their test.
//
// `npm test` (scripts/test.ts) installs asyncua and starts two servers with scripts/opcua — one with
// SecurityPolicy None, one with Basic256Sha256 SignAndEncrypt and a user — and passes them in OFA_OPCUA_* and
// OFA_OPCUA_SECURE_* variables. Run alone (`npx node --test packages/connector-opcua/test/*.test.ts`), the tests start
// those servers themselves (scripts/opcua start --name test / test-secure, left running: stop them with
// `scripts/opcua stop`). In CI a missing variable is an error: the tests fail, they never skip.
//
// The servers are shared by every test file: a test that stops or restarts a server starts its own with
// `startPrivatePeer(t, ...)`, which is deleted after the test.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { OPCUACertificateManager } from 'node-opcua-certificate-manager'
import {
  type ClientSession,
  MessageSecurityMode,
  OPCUAClient,
  type OPCUAClientOptions,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua-client'
import { envFor, type Security, type ServerState, start, stop } from '../../../scripts/opcua.ts'

/** One OPC UA server of the test peer (scripts/peers/opcua_server.py describes its address space). */
export interface OpcuaPeer {
  /** Its name for scripts/opcua (start, stop, status). */
  readonly name: string
  readonly security: Security
  readonly endpoint: string
  /** The namespace URI of the machine's nodes: `ns=<its index>;s=Machine.SpindleSpeed`, ... */
  readonly namespace: string
  /** The session user (sign-and-encrypt servers only; `none` servers take anonymous sessions). */
  readonly user?: { readonly userName: string; readonly password: string }
  /** The server's self-signed certificate, DER (sign-and-encrypt servers only). */
  readonly serverCertificate?: string
}

/** The machine's node names, string ids in the peer's namespace. */
export const NODES = {
  machine: 'Machine',
  spindleSpeed: 'Machine.SpindleSpeed',
  partCount: 'Machine.PartCount',
  execution: 'Machine.Execution',
  doorOpen: 'Machine.DoorOpen',
  feedOverride: 'Machine.FeedOverride',
  setSpeed: 'Machine.SetSpeed',
  peer: 'Peer',
  sessionCount: 'Peer.SessionCount',
  addNamespace: 'Peer.AddNamespace',
} as const

function fromEnv(env: Record<string, string | undefined>, prefix: string, security: Security): OpcuaPeer | undefined {
  if (!env[`${prefix}_ENDPOINT`]) return undefined
  const need = (k: string): string => {
    const v = env[`${prefix}_${k}`]
    if (!v) throw new Error(`${prefix}_ENDPOINT is set but ${prefix}_${k} is not (see scripts/opcua env)`)
    return v
  }
  return {
    name: need('SERVER'),
    security,
    endpoint: need('ENDPOINT'),
    namespace: need('NAMESPACE'),
    ...(security === 'sign-and-encrypt'
      ? {
          user: { userName: need('USERNAME'), password: need('PASSWORD') },
          serverCertificate: need('SERVER_CERT'),
        }
      : {}),
  }
}

function toPeer(state: ServerState): OpcuaPeer {
  const prefix = state.security === 'none' ? 'OFA_OPCUA' : 'OFA_OPCUA_SECURE'
  return fromEnv(envFor(state), prefix, state.security)!
}

async function shared(prefix: string, name: string, security: Security): Promise<OpcuaPeer> {
  const given = fromEnv(process.env, prefix, security)
  if (given) return given
  if (process.env.CI) {
    throw new Error(
      `${prefix}_ENDPOINT is not set: the OPC UA tests need the servers that scripts/test.ts starts (npm test)`,
    )
  }
  return toPeer(await start({ name, security }))
}

let plain: Promise<OpcuaPeer> | undefined
let secure: Promise<OpcuaPeer> | undefined

/** The shared server with SecurityPolicy None and anonymous sessions. */
export function opcuaPeer(): Promise<OpcuaPeer> {
  plain ??= shared('OFA_OPCUA', 'test', 'none')
  return plain
}

/** The shared server with Basic256Sha256 SignAndEncrypt and a user/password. */
export function opcuaSecurePeer(): Promise<OpcuaPeer> {
  secure ??= shared('OFA_OPCUA_SECURE', 'test-secure', 'sign-and-encrypt')
  return secure
}

let privateCount = 0

/** A server of this test alone (to stop, restart or break), stopped and deleted after the test. */
export async function startPrivatePeer(t: TestContext, security: Security = 'none'): Promise<OpcuaPeer> {
  const name = `private-${process.pid}-${++privateCount}`
  t.after(() => stop(name, true))
  return toPeer(await start({ name, security }))
}

/** Stops a server (SIGTERM to its process group); `restartPeer` starts it again on the same endpoint. */
export async function stopPeer(peer: OpcuaPeer): Promise<void> {
  await stop(peer.name)
}

export async function restartPeer(peer: OpcuaPeer): Promise<void> {
  await start({ name: peer.name, security: peer.security })
}

export interface TestClient {
  readonly client: OPCUAClient
  readonly session: ClientSession
  /** The index of the peer's namespace in this server's namespace array. */
  readonly ns: number
  /** `ns=<ns>;s=<name>` */
  nodeId(name: string): string
}

/**
 * Connects an OPCUAClient to `peer` and opens a session (as the peer's user where it has one). The client's own
 * certificate and its trust lists live in a temp PKI folder, where the server's certificate is accepted
 * automatically. Closed and removed after the test.
 */
export async function connectTestClient(
  t: TestContext,
  peer: OpcuaPeer,
  opts: Partial<OPCUAClientOptions> = {},
): Promise<TestClient> {
  const pki = await fs.mkdtemp(path.join(os.tmpdir(), 'ofa-opcua-pki-'))
  const clientCertificateManager = new OPCUACertificateManager({
    rootFolder: pki,
    automaticallyAcceptUnknownCertificate: true,
  })
  const secured = peer.security === 'sign-and-encrypt'
  const client = OPCUAClient.create({
    applicationName: 'OpenFactoryTest',
    applicationUri: `urn:openfactory:test-client:${process.pid}`,
    clientCertificateManager,
    securityMode: secured ? MessageSecurityMode.SignAndEncrypt : MessageSecurityMode.None,
    securityPolicy: secured ? SecurityPolicy.Basic256Sha256 : SecurityPolicy.None,
    connectionStrategy: { initialDelay: 100, maxDelay: 500, maxRetry: 100 },
    requestedSessionTimeout: 60_000,
    ...opts,
  })
  t.after(async () => {
    await client.disconnect()
    await clientCertificateManager.dispose()
    await fs.rm(pki, { recursive: true, force: true })
  })
  await client.connect(peer.endpoint)
  const identity: UserIdentityInfo = peer.user
    ? { type: UserTokenType.UserName, userName: peer.user.userName, password: peer.user.password }
    : { type: UserTokenType.Anonymous }
  const session = await client.createSession(identity)
  const namespaces = await session.readNamespaceArray()
  const ns = namespaces.indexOf(peer.namespace)
  if (ns < 0) throw new Error(`namespace ${peer.namespace} not in ${namespaces.join(', ')}`)
  return { client, session, ns, nodeId: (name) => `ns=${ns};s=${name}` }
}
