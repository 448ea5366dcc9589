/**
 * The engine's command topic, `_ofa_sql_commands` (as ksqlDB's command topic): every statement that changed the
 * catalog — CREATE, CREATE ... AS SELECT, INSERT INTO, DROP, TERMINATE — in the order it was accepted, with the
 * properties it ran with and the query id it got. One partition, kept forever. An engine starting reads it from the
 * start and runs each statement again (without writing it again), which rebuilds its catalog and restarts its
 * persistent queries, each from its own checkpoint.
 *
 * Value (JSON): `{ "statement": "<text>", "properties": {...}, "queryId"?: "CSAS_X_0" }`; key: the command's
 * sequence number as text.
 */
import type { EventLog } from '@openfactory/log'
import type { StatementProperties } from './engine-api.ts'

export const COMMAND_TOPIC = '_ofa_sql_commands'

export interface Command {
  readonly statement: string
  readonly properties: StatementProperties
  readonly queryId?: string
}

export class CommandLog {
  readonly #log: EventLog
  readonly topic: string
  #next = 0

  constructor(eventLog: EventLog, topic = COMMAND_TOPIC) {
    this.#log = eventLog
    this.topic = topic
  }

  /** Creates the topic if missing and returns every command in it, in order. */
  async open(): Promise<Command[]> {
    await this.#log.createTopic({ name: this.topic, partitions: 1, retentionMs: -1 })
    const d = await this.#log.describeTopic(this.topic)
    const state = d.partitionStates[0]
    const out: Command[] = []
    let offset = state?.startOffset ?? 0
    const end = state?.endOffset ?? 0
    while (offset < end) {
      const batch = await this.#log.read(this.topic, 0, offset)
      if (batch.length === 0) break
      for (const r of batch) {
        if (r.offset >= end) break
        if (r.value) out.push(JSON.parse(r.value.toString('utf8')) as Command)
      }
      offset = (batch.at(-1)?.offset ?? offset) + 1
    }
    this.#next = end
    return out
  }

  /** Appends a command once it took effect; resolves when it is durable. Returns its sequence number. */
  async append(command: Command): Promise<number> {
    const [meta] = await this.#log.append(this.topic, [
      { key: String(this.#next), value: JSON.stringify(command), partition: 0 },
    ])
    this.#next = (meta?.offset ?? this.#next) + 1
    return meta?.offset ?? this.#next - 1
  }
}
