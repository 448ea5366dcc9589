/** Who acts from the command line, for the audit trail: `cli:<user>@<host>`. */
import { hostname, userInfo } from 'node:os'

export function cliActor(): string {
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // no passwd entry (a container): unknown
  }
  return `cli:${user}@${hostname()}`
}
