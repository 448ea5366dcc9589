/**
 * The serving app's authentication, from factory.yaml `auth:` (packages/serve/src/auth): the API keys on the log
 * (followed, so a key made or revoked elsewhere counts here within a poll), the OIDC token verifier when `oidc:` is
 * set, and the audit trail. No `auth:`: none (the API is open; `ofa up` says so, and refuses to listen beyond
 * loopback without --insecure).
 */
import type { EventLog } from '@openfactory/log'
import type { Factory } from '@openfactory/model'
import { type AuthOptions, createTokenVerifier, type KeyStore, openAuditLog, openKeyStore } from '@openfactory/serve'

export interface ServeAuth {
  readonly options: AuthOptions
  close(): Promise<void>
}

export async function startServeAuth(factory: Factory, log: EventLog): Promise<ServeAuth | undefined> {
  const auth = factory.manifest.auth
  if (!auth) return undefined
  let keys: KeyStore | undefined
  if (auth.keys) {
    keys = openKeyStore(log)
    await keys.ready()
  }
  const oidc = auth.oidc
  // factory.yaml's `auth.oidc` holds the verifier's options under the same names (model cannot name serve's type).
  const tokens = oidc ? createTokenVerifier(oidc) : undefined
  const audit = openAuditLog(log, {
    ...(factory.manifest.topics.ofa_audit?.retentionMs !== undefined
      ? { retentionMs: factory.manifest.topics.ofa_audit.retentionMs }
      : {}),
  })
  return {
    options: { required: true, ...(keys ? { keys } : {}), ...(tokens ? { tokens } : {}), audit },
    async close() {
      tokens?.close()
      await keys?.close()
    },
  }
}
