/**
 * Authentication and authorization of every request (a Fastify plugin, app-wide, after the request guards).
 *
 * Every route says what it needs (route config `access`: types.ts); a route registered without it makes the app
 * fail to start, so a new route cannot be forgotten. Swagger UI's own routes (under /api/docs) are public.
 *
 * With authentication on (factory.yaml `auth:`), a request that needs more than `public` must carry
 * `Authorization: Bearer <credential>`: an API key (`ofa_…`, keys.ts) or an OIDC token (jwt.ts). WebSocket and SSE
 * clients in a browser cannot set headers: the live routes also take `?access_token=` (it may then appear in proxy
 * logs; prefer the header wherever the client can set one). No credential: 401 `OFA_AUTH_REQUIRED` with
 * `WWW-Authenticate: Bearer`; a credential that is not valid: 401 `OFA_AUTH_INVALID`; a role too low: 403
 * `OFA_AUTH_FORBIDDEN`; the token provider unreachable: 503. Every denial is on the audit trail (audit.ts).
 *
 * Scopes (policy.ts) are checked where the asset is known: a route whose path names an asset (`:uuid`) needs it in
 * the principal's scopes; lists and live streams leave out what is not (their routes filter with `inScope`). The SQL routes read anything: a scoped principal may
 * not use them.
 *
 * With authentication off (the demo on loopback), every caller is the open principal, an admin with no scope.
 */
import { isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { sendError } from '../http/errors.ts'
import type { AssetState } from '../state/asset-state.ts'
import type { AuditLog } from './audit.ts'
import type { KeyStore } from './keys.ts'
import { inScope } from './policy.ts'
import { ACCESS_ROLE, type Access, type Principal, roleAtLeast } from './types.ts'

export interface AuthOptions {
  /** On: every route but the public ones needs credentials. Off: every caller is OPEN_PRINCIPAL. */
  readonly required: boolean
  readonly keys?: KeyStore
  /** Verifies an OIDC bearer token (jwt.ts); throws OFA_AUTH_TOKEN_INVALID or OFA_AUTH_PROVIDER_UNAVAILABLE. */
  readonly tokens?: { verify(token: string): Promise<Principal> }
  readonly audit?: AuditLog
}

export const OPEN_PRINCIPAL: Principal = { id: 'open', kind: 'open', role: 'admin', scopes: [] }

/** Routes every app has whatever their plugins: Swagger UI's pages and files. */
const PUBLIC_PREFIXES = ['/api/docs']

/** The route table: each route with what it needs (the auth matrix test reads it). */
export interface RouteAccess {
  readonly method: string
  readonly url: string
  readonly access: Access
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its `access`. */
    routeAccess: RouteAccess[]
    /** The audit trail, when the app keeps one. */
    audit: AuditLog | null
  }
}

function credential(request: FastifyRequest, live: boolean): string | undefined {
  const h = request.headers.authorization
  if (typeof h === 'string') {
    const m = /^Bearer[ \t]+(\S{1,8192})\s*$/i.exec(h)
    return m ? (m[1] as string) : ''
  }
  if (live) {
    const q = (request.query as Record<string, unknown> | undefined)?.access_token
    if (typeof q === 'string') return q
  }
  return undefined
}

export const authentication = fp<AuthOptions & { state: AssetState }>(
  async (app, opts) => {
    app.decorate('routeAccess', [] as RouteAccess[])
    app.decorate('audit', opts.audit ?? null)
    app.addHook('onRoute', (route) => {
      const url = route.url ?? route.path
      let access = route.config?.access
      if (access === undefined && PUBLIC_PREFIXES.some((p) => url.startsWith(p))) access = 'public'
      if (access === undefined) {
        throw new OpenFactoryError('OFA_AUTH_CONFIG', `route ${String(route.method)} ${url} says no access`)
      }
      for (const method of [route.method].flat()) app.routeAccess.push({ method: String(method), url, access })
      route.config = { ...route.config, access }
    })

    const deny = async (request: FastifyRequest, reply: FastifyReply, err: OpenFactoryError, who: string) => {
      await opts.audit
        ?.denied({
          who,
          action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
          outcome: `denied: ${err.code}`,
          from: request.ip,
          ...(typeof (request.params as { uuid?: unknown })?.uuid === 'string'
            ? { target: (request.params as { uuid: string }).uuid }
            : {}),
        })
        .catch(() => {}) // a trail that cannot be written does not turn a 401 into a 500
      if (err.code === 'OFA_AUTH_REQUIRED' || err.code === 'OFA_AUTH_INVALID') {
        reply.header('www-authenticate', 'Bearer')
      }
      // A refused WebSocket upgrade: its socket is no longer the server's to keep alive or to close; end it.
      if (request.headers.upgrade !== undefined) {
        reply.header('connection', 'close')
        const socket = request.raw.socket
        reply.raw.once('finish', () => socket.end())
      }
      return sendError(reply, err)
    }

    // onRequest: after routing (path parameters, the asset, are known), before a body is read. A callback hook:
    // it runs on every request, and only a credential to check needs a promise (bench/serve-rest.ts).
    app.addHook('onRequest', (request, reply, done) => {
      if (!opts.required) {
        request.principal = OPEN_PRINCIPAL
        return done()
      }
      const access = request.routeOptions.config?.access ?? 'public'
      if (access === 'public') return done()
      // As Fastify runs an async hook: a denial has sent its answer, and Fastify goes no further once one is sent.
      check(request, reply, access).then(() => done(), done)
    })

    const check = async (
      request: FastifyRequest,
      reply: FastifyReply,
      access: Exclude<Access, 'public'>,
    ): Promise<unknown> => {
      const live = request.routeOptions.config?.checkOrigin === true
      const text = credential(request, live)
      if (text === undefined) {
        return deny(
          request,
          reply,
          new OpenFactoryError(
            'OFA_AUTH_REQUIRED',
            'this route needs credentials: Authorization: Bearer <API key or token>',
          ),
          'anonymous',
        )
      }
      let principal: Principal | undefined
      if (text.startsWith('ofa_')) principal = opts.keys?.verify(text)
      else if (text !== '' && opts.tokens) {
        try {
          principal = await opts.tokens.verify(text)
        } catch (err) {
          if (isOpenFactoryError(err, 'OFA_AUTH_PROVIDER_UNAVAILABLE')) {
            return sendError(reply, err, 503)
          }
          const why = isOpenFactoryError(err) ? err.message : 'not a valid token'
          return deny(request, reply, new OpenFactoryError('OFA_AUTH_INVALID', why), 'anonymous')
        }
      }
      if (!principal) {
        return deny(
          request,
          reply,
          new OpenFactoryError('OFA_AUTH_INVALID', 'the credential is not a valid API key or token'),
          'anonymous',
        )
      }
      request.principal = principal
      const least = ACCESS_ROLE[access]
      if (!roleAtLeast(principal.role, least)) {
        return deny(
          request,
          reply,
          new OpenFactoryError('OFA_AUTH_FORBIDDEN', `role ${principal.role} may not do this: it needs ${least}`),
          principal.id,
        )
      }
      if (principal.scopes.length === 0) return
      if (request.routeOptions.config?.allAssets === true) {
        return deny(
          request,
          reply,
          new OpenFactoryError(
            'OFA_AUTH_FORBIDDEN',
            'this route reads every asset: a principal with scopes may not use it',
          ),
          principal.id,
        )
      }
      const uuid = (request.params as { uuid?: unknown } | undefined)?.uuid
      if (typeof uuid !== 'string') return
      if (!inScope(principal, uuid, opts.state)) {
        return deny(
          request,
          reply,
          new OpenFactoryError('OFA_AUTH_FORBIDDEN', `asset ${uuid} is outside the scopes of ${principal.id}`),
          principal.id,
        )
      }
    }
  },
  { name: 'authentication' },
)

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads every asset whatever is asked (SQL): principals with scopes may not use it. */
    allAssets?: boolean
  }
}
