/**
 * The factory's SQL: the engine on the factory's log, and the `.sql` files factory.yaml names (`sql:`), run in
 * order when the factory starts.
 *
 * A restart finds the engine's streams, tables and queries on its command topic already; a file's statement that
 * the catalog already holds is skipped — a CREATE of a name that exists, an INSERT INTO whose text a running query
 * has — so the files may be run at every start. `SET 'name' = 'value'` in a file applies to the statements after it
 * in that file (the reference's scripts start with `SET 'auto.offset.reset' = 'earliest'`).
 */
import { readFileSync } from 'node:fs'
import type { EventLog } from '@openfactory/log'
import { type DebugLogger, OpenFactoryError } from '@openfactory/model'
import { openSqlEngine, parseStatements, type SqlEngine } from '@openfactory/sql'

export async function startFactorySql(
  log: EventLog,
  files: readonly string[],
  logger: DebugLogger,
  assignment: 'static' | 'group' = 'static',
): Promise<SqlEngine> {
  const engine = await openSqlEngine({ eventLog: log, logger, assignment })
  try {
    for (const file of files) await runFile(engine, file, logger)
  } catch (err) {
    await engine.close()
    throw err
  }
  return engine
}

async function runFile(engine: SqlEngine, file: string, logger: DebugLogger): Promise<void> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new OpenFactoryError('OFA_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`, { where: { file } })
  }
  const properties: Record<string, string> = {}
  let ran = 0
  let skipped = 0
  for (const stmt of parseStatements(text, { file })) {
    if (stmt.kind === 'SetNode') {
      properties[stmt.name] = stmt.value
      continue
    }
    if (stmt.kind === 'UnsetNode') {
      delete properties[stmt.name]
      continue
    }
    const exists =
      ((stmt.kind === 'CreateSourceNode' || stmt.kind === 'CreateAsSelectNode') &&
        engine.catalog.source(stmt.name) !== undefined) ||
      (stmt.kind === 'InsertIntoNode' && engine.catalog.queries().some((q) => q.statementText === stmt.text))
    if (exists) {
      skipped++
      continue
    }
    try {
      await engine.execute(stmt.text, { properties })
      ran++
    } catch (err) {
      if (err instanceof OpenFactoryError && !err.where?.file) {
        // Place the error in the file: the statement's own position plus the error's within it.
        const inner = err.where?.line ?? 1
        const line = stmt.where.line + inner - 1
        const column =
          err.where?.column === undefined
            ? undefined
            : inner === 1
              ? stmt.where.column + err.where.column - 1
              : err.where.column
        throw new OpenFactoryError(err.code, err.message, {
          cause: err,
          where: { file, line, ...(column !== undefined ? { column } : {}) },
        })
      }
      throw err
    }
  }
  logger.info('SQL file run', { file, statements: ran, alreadyThere: skipped })
}
