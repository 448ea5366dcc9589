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
 *
 * These are the types; `asset-event.ts` encodes and decodes them (`AssetEvents.command`, `AssetEvents.result`).
 */

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
