// What every server script (scripts/kafka, opcua, docker, mtconnect-agent) shares as a command line: a usage error
// (exit 2 with the usage), other failures (exit 1), progress on stderr.

/** A command line the script cannot run: exit 2 with its usage. */
export class UsageError extends Error {}

/** Progress and errors, on stderr (stdout carries what a caller reads: bootstrap servers, endpoints, DOCKER_HOST). */
export function log(msg: string): void {
  process.stderr.write(`${msg}\n`)
}

/** Runs a script's `main` on its arguments and exits with its code: 2 with the usage for a UsageError, else 1. */
export function runScript(name: string, usage: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) log(`${name}: ${err.message}\n${usage}`)
      else log(`${name}: ${err instanceof Error ? err.message : String(err)}`)
      process.exit(err instanceof UsageError ? 2 : 1)
    },
  )
}
