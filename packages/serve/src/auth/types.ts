/**
 * Who calls, and what they may do: the contract between authentication (API keys: keys.ts; OIDC bearer tokens:
 * jwt.ts), authorization (policy.ts, the `access` of each route) and everything that records or limits by caller
 * (the audit trail, rate limits, a command's `signature`).
 *
 * Roles are ordered: `viewer` reads state, history and live streams; `operator` also calls methods; `admin` also
 * manages configuration, keys and deployments and reads the audit trail. A principal's `scopes` narrow what its role
 * applies to: UNS patterns (`Plant1/Machining/#`, `+` one level, `#` the rest) and asset patterns
 * (`asset:CNC-*`, `*` any run of characters); none means every asset.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  /** Stable and printable: `key:<id>`, `token:<issuer>#<sub>`, or `open` when authentication is off. */
  readonly id: string
  readonly kind: 'key' | 'token' | 'open'
  /** For people: a key's name, a token's `name`/`preferred_username`. */
  readonly name?: string
  readonly role: Role
  /** UNS patterns and `asset:` patterns; empty: every asset. */
  readonly scopes: readonly string[]
}

/**
 * What a route needs: `public` (health, docs: no credentials), `read` (viewer), `command` (operator), `admin`.
 * Every route says it (route config `access`); a route that does not is refused at start (so none is forgotten).
 */
export type Access = 'public' | 'read' | 'command' | 'admin'

/** The least role each access needs. */
export const ACCESS_ROLE: Readonly<Record<Exclude<Access, 'public'>, Role>> = {
  read: 'viewer',
  command: 'operator',
  admin: 'admin',
}

/** Whether `role` is at least `least`. */
export function roleAtLeast(role: Role, least: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(least)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who calls (set before any route runs; the open principal when authentication is off). */
    principal?: Principal
  }
  interface FastifyContextConfig {
    /** What the route needs (types.ts `Access`). */
    access?: Access
  }
}
