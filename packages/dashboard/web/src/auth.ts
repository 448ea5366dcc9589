/**
 * Who the user is: `GET /api/auth/me`. Without `auth:` in factory.yaml the API is open (kind `open`, an admin) and
 * no sign-in shows; with it, a 401 shows the sign-in form, where the user pastes an API key (`ofa_...`) or an
 * OIDC access token.
 */
import { signal } from '@preact/signals'
import { ApiError, api, setCredential, signInNeeded } from './api.ts'
import { live } from './live.ts'
import type { Me } from './types.ts'

export const me = signal<Me | null>(null)
export const authChecked = signal(false)
export const authError = signal<string | null>(null)

/** Asks the server who we are; false when a credential is needed (or the one we have is refused). */
export async function checkAuth(): Promise<boolean> {
  try {
    me.value = await api<Me>('/api/auth/me', { quiet401: true })
    signInNeeded.value = false
    authError.value = null
    return true
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      me.value = null
      signInNeeded.value = true
      return false
    }
    authError.value = err instanceof Error ? err.message : String(err)
    return false
  } finally {
    authChecked.value = true
  }
}

/** Keeps `credential` if the server takes it; returns the error to show otherwise. */
export async function signIn(credential: string): Promise<string | null> {
  setCredential(credential.trim())
  try {
    me.value = await api<Me>('/api/auth/me', { quiet401: true })
  } catch (err) {
    setCredential(null)
    return err instanceof ApiError ? err.describe() : String(err)
  }
  signInNeeded.value = false
  live.restart()
  return null
}

export function signOut(): void {
  setCredential(null)
  me.value = null
  signInNeeded.value = true
  live.stop()
}
