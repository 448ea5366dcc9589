import { useState } from 'preact/hooks'
import { signIn } from '../auth.ts'

/** The sign-in form: an API key (`ofa_<id>_<secret>`) or an OIDC access token, kept for this tab only. */
export function SignInPage() {
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (ev: Event) => {
    ev.preventDefault()
    setBusy(true)
    setError(await signIn(text))
    setBusy(false)
  }
  return (
    <main id="main" class="sign-in" tabIndex={-1}>
      <h1>Sign in to OpenFactory</h1>
      <p>
        This server needs a credential: paste an API key (made with <code>ofa auth key create</code> or by an admin) or
        an access token of your identity provider. It is kept in this browser tab only and sent with each request.
      </p>
      <form onSubmit={submit}>
        <label for="credential">API key or access token</label>
        <input
          id="credential"
          name="credential"
          type="password"
          autoComplete="off"
          required
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </main>
  )
}
