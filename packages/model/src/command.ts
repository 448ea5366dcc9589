/**
 * Commands and their results.
 *
 * A command asks an asset to run one of its methods. It travels on `ofa_assets`, keyed by the target asset's
 * UUID, as the attribute `<Method>_CMD` (`TYPE: "OpenFactory"`, `TAG: "Method.Command"`) whose VALUE is the
 * envelope `{"header": {"correlation_id", "sender_uuid", "timestamp", "signature"}, "arguments": {...}}`.
 * The reference stores VALUE in a text column, so the envelope is written as a JSON string; readers accept an
 * object as well.
 *
 * Every command gets an answer, `<Method>_RESULT` (`TAG: "Method.Result"`), whose VALUE is
 * `{"correlation_id", "status", "result"?, "error"?: {"code", "message"}}` with status accepted | completed |
 * failed | rejected | timeout. `signature` stays null until authentication exists.
 */
import { OpenFactoryError } from './errors.ts'
import type { Observation } from './observation.ts'
import { isoTimestamp } from './time.ts'

export interface CommandHeader {
  readonly correlation_id: string
  readonly sender_uuid: string
  readonly timestamp: string
  readonly signature: string | null
}

export interface CommandEnvelope {
  readonly header: CommandHeader
  readonly arguments: Readonly<Record<string, unknown>>
}

export type CommandStatus = 'accepted' | 'completed' | 'failed' | 'rejected' | 'timeout'
export const COMMAND_STATUSES: readonly CommandStatus[] = ['accepted', 'completed', 'failed', 'rejected', 'timeout']

export interface CommandResult {
  readonly correlation_id: string
  readonly status: CommandStatus
  readonly result?: unknown
  readonly error?: { readonly code: string; readonly message: string }
}

export const COMMAND_SUFFIX = '_CMD'
export const RESULT_SUFFIX = '_RESULT'

export function createCommand(opts: {
  method: string
  senderUuid: string
  arguments?: Record<string, unknown>
  correlationId?: string
  at?: number
}): Observation {
  const envelope: CommandEnvelope = {
    header: {
      correlation_id: opts.correlationId ?? crypto.randomUUID(),
      sender_uuid: opts.senderUuid,
      timestamp: isoTimestamp(opts.at),
      signature: null,
    },
    arguments: opts.arguments ?? {},
  }
  return {
    id: `${opts.method}${COMMAND_SUFFIX}`,
    value: JSON.stringify(envelope),
    tag: 'Method.Command',
    type: 'OpenFactory',
    attributes: { timestamp: envelope.header.timestamp },
  }
}

export function createCommandResult(method: string, result: CommandResult, at?: number): Observation {
  return {
    id: `${method}${RESULT_SUFFIX}`,
    value: JSON.stringify(result),
    tag: 'Method.Result',
    type: 'OpenFactory',
    attributes: { timestamp: isoTimestamp(at) },
  }
}

function parseJsonValue(value: unknown, what: string): Record<string, unknown> {
  let v = value
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v)
    } catch (err) {
      throw new OpenFactoryError('OFA_COMMAND_INVALID', `${what} is not JSON`, { cause: err })
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new OpenFactoryError('OFA_COMMAND_INVALID', `${what} must be a JSON object`)
  }
  return v as Record<string, unknown>
}

/** Reads a `<Method>_CMD` observation: the method name and the envelope. */
export function parseCommand(o: Observation): { method: string; envelope: CommandEnvelope } {
  if (!o.id.endsWith(COMMAND_SUFFIX) || o.id.length === COMMAND_SUFFIX.length) {
    throw new OpenFactoryError('OFA_COMMAND_INVALID', `${o.id} is not a command (expected <Method>${COMMAND_SUFFIX})`)
  }
  const v = parseJsonValue(o.value, `command ${o.id}`)
  const header = v.header as Record<string, unknown> | undefined
  if (!header || typeof header !== 'object' || typeof header.correlation_id !== 'string') {
    throw new OpenFactoryError('OFA_COMMAND_INVALID', `command ${o.id} has no header.correlation_id`)
  }
  const args = v.arguments ?? {}
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new OpenFactoryError('OFA_COMMAND_INVALID', `command ${o.id} has arguments that are not an object`)
  }
  return {
    method: o.id.slice(0, -COMMAND_SUFFIX.length),
    envelope: {
      header: {
        correlation_id: header.correlation_id,
        sender_uuid: typeof header.sender_uuid === 'string' ? header.sender_uuid : '',
        timestamp: typeof header.timestamp === 'string' ? header.timestamp : o.attributes.timestamp,
        signature: typeof header.signature === 'string' ? header.signature : null,
      },
      arguments: args as Record<string, unknown>,
    },
  }
}

/** Reads a `<Method>_RESULT` observation. */
export function parseCommandResult(o: Observation): { method: string; result: CommandResult } {
  if (!o.id.endsWith(RESULT_SUFFIX)) {
    throw new OpenFactoryError(
      'OFA_COMMAND_INVALID',
      `${o.id} is not a command result (expected <Method>${RESULT_SUFFIX})`,
    )
  }
  const v = parseJsonValue(o.value, `result ${o.id}`)
  if (typeof v.correlation_id !== 'string') {
    throw new OpenFactoryError('OFA_COMMAND_INVALID', `result ${o.id} has no correlation_id`)
  }
  if (!(COMMAND_STATUSES as readonly unknown[]).includes(v.status)) {
    throw new OpenFactoryError('OFA_COMMAND_INVALID', `result ${o.id} has status ${JSON.stringify(v.status)}`)
  }
  return { method: o.id.slice(0, -RESULT_SUFFIX.length), result: v as unknown as CommandResult }
}

/** The attribute that publishes a method's contract: `TYPE: "Method"`, VALUE the JSON contract as text. */
export function methodObservation(contract: import('./asset.ts').MethodContract, at?: number): Observation {
  return {
    id: contract.name,
    value: JSON.stringify({ description: contract.description, arguments: contract.arguments }),
    tag: 'Method',
    type: 'Method',
    attributes: { timestamp: isoTimestamp(at) },
  }
}
