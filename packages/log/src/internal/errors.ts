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

/** A failed disk operation; `EAGAIN`-like failures may be retried, the rest are not. */
export function ioError(what: string, cause: unknown): OpenFactoryError {
  if (cause instanceof OpenFactoryError) return cause
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  const retryable = code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE' || code === 'ENFILE' || code === 'EINTR'
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new OpenFactoryError('OFA_LOG_IO', `${what}: ${detail}`, { cause, retryable })
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
