// Small constructors for the coded errors the embedded log raises.
import { OpenFactoryError } from '@openfactory/model'

export function invalidArgument(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', message)
}

/** Acknowledged data is damaged: names the file and the byte offset of the damaged batch. */
export function corrupt(file: string, offset: number, message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_CORRUPT', `${message} (${file} at byte ${offset})`, {
    where: { file, offset },
    cause,
  })
}

/** Failures that may pass by themselves: busy resources, and a full disk or quota (space may come back). */
const RETRYABLE = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ENOSPC', 'EDQUOT'])

/** A failed disk operation; `EAGAIN`-like failures and a full disk may be retried, the rest are not. */
export function ioError(what: string, cause: unknown, file?: string): OpenFactoryError {
  if (cause instanceof OpenFactoryError) return cause
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new OpenFactoryError('OFA_LOG_IO', `${what}: ${detail}`, {
    cause,
    retryable: code !== undefined && RETRYABLE.has(code),
    ...(file !== undefined ? { where: { file } } : {}),
  })
}

/** Whether a failed write may succeed later without the file being reopened (the disk or quota was full). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

export function closedError(): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_CLOSED', 'the event log is closed')
}

export function readOnlyError(what: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_READ_ONLY', `${what}: the event log was opened read-only`)
}

export function unknownTopic(topic: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_UNKNOWN_TOPIC', `topic ${JSON.stringify(topic)} does not exist`)
}
