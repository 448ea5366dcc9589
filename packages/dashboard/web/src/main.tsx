/** The dashboard's entry: styles, who the user is, the asset list, then the app. */
import 'uplot/dist/uPlot.min.css'
import './styles.css'
import { effect } from '@preact/signals'
import { render } from 'preact'
import { signInNeeded } from './api.ts'
import { App } from './app.tsx'
import { startAssets } from './assets.ts'
import { checkAuth, me } from './auth.ts'
import { live } from './live.ts'

let started: string | null = null
// The asset list and its live availability start once the user is known, and again after signing in as another.
effect(() => {
  const user = me.value
  if (user && started !== user.id) {
    started = user.id
    startAssets()
  }
  if (!user) started = null
})

// A 401 anywhere (a key revoked meanwhile): no live connection until the user signs in again.
effect(() => {
  if (signInNeeded.value) live.stop()
})

void checkAuth()
render(<App />, document.getElementById('app') as HTMLElement)
