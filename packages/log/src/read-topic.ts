/**
 * Every record a topic holds now, partition after partition, for the small topics read whole at start
 * (deployments, API keys): what `follow` would give up to the current end, without staying. None when the topic does
 * not exist.
 */
import type { EventLog, LogRecord } from './backbone.ts'

export async function readTopic(log: EventLog, topic: string): Promise<LogRecord[]> {
  if (!(await log.listTopics()).includes(topic)) return []
  const d = await log.describeTopic(topic)
  const out: LogRecord[] = []
  for (const s of d.partitionStates) {
    let offset = s.startOffset
    while (offset < s.endOffset) {
      const batch = await log.read(topic, s.partition, offset)
      if (batch.length === 0) break
      out.push(...batch)
      offset = (batch.at(-1) as LogRecord).offset + 1
    }
  }
  return out
}
