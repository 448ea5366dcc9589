/** The time, once a second: ages and "active for" durations tick with it. */
import { signal } from '@preact/signals'

export const now = signal(Date.now())
setInterval(() => {
  now.value = Date.now()
}, 1000)
