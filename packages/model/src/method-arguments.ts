/**
 * Method arguments, checked once, by one function, with the same rules wherever a command enters: the HTTP API
 * (before the command is written), the supervisor (before a connector runs it), every connector.
 *
 * Rules, from the method's contract: an argument marked `required` must be present; an argument the contract
 * does not name is refused; an argument with a `type` must have that JSON type (`number` means a finite number:
 * `1e999` parses to Infinity, which JSON cannot carry to the device).
 */
import type { MethodArgument, MethodContract } from './asset.ts'
import { type ErrorCode, OpenFactoryError } from './errors.ts'

function typeOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number' && !Number.isFinite(v)) return 'non-finite number'
  return typeof v
}

export interface CheckArgumentsOptions {
  /** The code of the error thrown (default OFA_COMMAND_REJECTED; the HTTP API uses OFA_SERVE_ARGUMENTS_INVALID). */
  readonly code?: ErrorCode
  /** Prefix of each problem's `where.path` (default `arguments`; the HTTP API uses `body`). */
  readonly path?: string
}

/** Every problem with `args` against `method`'s contract; empty when they are valid. */
export function methodArgumentProblems(
  method: MethodContract,
  args: Readonly<Record<string, unknown>>,
  opts: CheckArgumentsOptions = {},
): OpenFactoryError[] {
  const code = opts.code ?? 'OFA_COMMAND_REJECTED'
  const prefix = opts.path ?? 'arguments'
  const problem = (name: string, message: string) =>
    new OpenFactoryError(code, message, { where: { path: `${prefix}.${name}` } })
  const problems: OpenFactoryError[] = []
  const declared = new Map<string, MethodArgument>(method.arguments.map((a) => [a.name, a]))
  for (const a of method.arguments) {
    if (a.required === true && !Object.hasOwn(args, a.name))
      problems.push(problem(a.name, `argument ${a.name} is required`))
  }
  for (const name of Object.keys(args)) {
    const a = declared.get(name)
    const value = args[name]
    if (!a) {
      const known = method.arguments.map((x) => x.name).join(', ') || 'none'
      problems.push(problem(name, `${method.name} has no argument ${name} (arguments: ${known})`))
    } else if (a.type !== undefined && typeOf(value) !== a.type) {
      problems.push(problem(name, `argument ${name} must be a ${a.type}, got ${typeOf(value)}`))
    }
  }
  return problems
}

/** Throws one error naming every problem with `args` (see `methodArgumentProblems`). */
export function checkMethodArguments(
  method: MethodContract,
  args: Readonly<Record<string, unknown>>,
  opts: CheckArgumentsOptions = {},
): void {
  const problems = methodArgumentProblems(method, args, opts)
  if (problems.length === 1) throw problems[0]
  if (problems.length > 1) {
    throw new OpenFactoryError(problems[0]!.code, problems.map((p) => p.message).join('; '), {
      where: problems[0]!.where,
      problems,
    })
  }
}
