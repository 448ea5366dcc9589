/**
 * `ofa`: the OpenFactory command line. Thin: each command parses its arguments and calls a package.
 * Exit statuses: 0 success, 1 the command ran and found problems (or failed), 2 usage error (the command line, or the
 * Kafka security its flags and variables give).
 */
import { isOpenFactoryError } from '@openfactory/model'
import { applyCommand, rollbackCommand, statusCommand, upDownCommand } from './commands/apply.ts'
import { auditCommand, authCommand } from './commands/auth.ts'
import { exportCommand } from './commands/export.ts'
import { imageCommand } from './commands/image.ts'
import { logCommand } from './commands/log.ts'
import { nodesCommand } from './commands/nodes.ts'
import { opcuaCommand } from './commands/opcua.ts'
import { historyCommand, planCommand } from './commands/plan.ts'
import { runCommand } from './commands/run.ts'
import { sqlCommand } from './commands/sql.ts'
import { stackCommand } from './commands/stack.ts'
import { upCommand } from './commands/up.ts'
import { validateCommand } from './commands/validate.ts'
import { versionCommand } from './commands/version.ts'
import { type CliIo, EXIT } from './io.ts'
import { HELP } from './usage.ts'

export type { CliIo } from './io.ts'

/**
 * SIGINT, SIGTERM and SIGHUP ask the command to stop cleanly; repeats of that request (Ctrl-C reaches both the
 * launcher and `ofa`, which the launcher also forwards it to) change nothing. A third signal ends the process
 * at once.
 */
function processIo(): CliIo {
  const controller = new AbortController()
  let received = 0
  const stop = (signal: NodeJS.Signals) => {
    if (++received > 2) {
      process.stderr.write(`ofa: ${signal} again; exiting without a clean stop\n`)
      process.exit(130)
    }
    controller.abort()
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop)
  // Started by npm (`npx ofa ...`, an npm script): npm does not pass SIGTERM on to its child, it just exits.
  // When the process that started us goes away, stop as if we had been sent SIGTERM.
  if (process.env.npm_command !== undefined || process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid
    const watch = setInterval(() => {
      if (process.ppid === parent) return
      clearInterval(watch)
      process.stderr.write('ofa: npm, which started ofa, has gone; stopping\n')
      stop('SIGTERM')
    }, 500)
    watch.unref()
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  }
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'up':
        return await upCommand(rest, io)
      case 'run':
        return await runCommand(rest, io)
      case 'validate':
        return await validateCommand(rest, io)
      case 'plan':
        return await planCommand(rest, io)
      case 'history':
        return await historyCommand(rest, io)
      case 'stack':
        return await stackCommand(rest, io)
      case 'apply':
        return await applyCommand(rest, io)
      case 'rollback':
        return await rollbackCommand(rest, io)
      case 'status':
        return await statusCommand(rest, io)
      case 'nodes':
        return await nodesCommand(rest, io)
      case 'auth':
        return await authCommand(rest, io)
      case 'audit':
        return await auditCommand(rest, io)
      case 'device':
      case 'apps':
        return await upDownCommand(command, rest, io)
      case 'version':
      case '--version':
        return await versionCommand(rest, io)
      case 'log':
        return await logCommand(rest, io)
      case 'export':
        return await exportCommand(rest, io)
      case 'opcua':
        return await opcuaCommand(rest, io)
      case 'sql':
        return await sqlCommand(rest, io)
      case 'image':
        return await imageCommand(rest, io)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(HELP)
        return command === undefined ? EXIT.usage : EXIT.ok
      default:
        io.stderr.write(`OFA_CLI_USAGE unknown command "${command}"; run "ofa help"\n`)
        return EXIT.usage
    }
  } catch (err) {
    if (isOpenFactoryError(err)) {
      io.stderr.write(`${err.format()}\n`)
      for (const p of err.problems) io.stderr.write(`${p.format()}\n`)
      return err.code === 'OFA_CLI_USAGE' || err.code === 'OFA_CLI_KAFKA_SECURITY' ? EXIT.usage : EXIT.failed
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`OFA_CLI_USAGE ${err.message}; run "ofa help"\n`)
      return EXIT.usage
    }
    throw err
  }
}
