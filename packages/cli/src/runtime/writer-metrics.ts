// Metrics of the supervisor's writes to the log and of its connectors' drops, for /metrics (serve's `extraMetrics`).
import type { Supervisor } from '@openfactory/connectors'
import type { Metric, MetricSample } from '@openfactory/serve'

/**
 * Records waiting, dropped (a connector past its cap, by connector), congested connectors, messages a connector
 * dropped (by connector and reason), and records set aside (by code).
 */
export function writerMetrics(supervisor: Supervisor | null): Metric[] {
  const s = supervisor?.writerStats()
  return [
    {
      name: 'ofa_connector_records_buffered',
      help: 'Records the connectors published that wait to be written to the log.',
      type: 'gauge',
      samples: [{ value: s?.buffered ?? 0 }],
    },
    {
      name: 'ofa_connector_records_dropped_total',
      help: 'Records dropped because the connector had more records waiting for the log than its cap (by connector).',
      type: 'counter',
      labelNames: ['connector'],
      samples: Object.entries(s?.droppedBy ?? {}).map(([connector, value]) => ({ labels: { connector }, value })),
    },
    {
      name: 'ofa_connector_congested',
      help: 'Connectors whose records wait for the log past their high-water mark: their input is slowed (1).',
      type: 'gauge',
      labelNames: ['connector'],
      samples: (s?.congested ?? []).map((connector) => ({ labels: { connector }, value: 1 })),
    },
    {
      name: 'ofa_connector_messages_dropped_total',
      help: 'Messages a connector received from its device and dropped on purpose (by connector and reason, e.g. flood).',
      type: 'counter',
      labelNames: ['connector', 'reason'],
      samples: Object.entries(supervisor?.connectorMetrics() ?? {}).flatMap(([connector, m]) =>
        Object.entries(m.messagesDropped ?? {}).map(([reason, value]) => ({ labels: { connector, reason }, value })),
      ),
    },
    {
      name: 'ofa_connector_records_set_aside_total',
      help: 'Records the log refused for good (by error code): logged once each, never retried.',
      type: 'counter',
      labelNames: ['code'],
      samples: Object.entries(s?.setAside ?? {}).map(([code, value]) => ({ labels: { code }, value })),
    },
    ...ownMetrics(supervisor),
  ]
}

/** The connectors' and built-in apps' own metrics (`ConnectorMetrics.samples`), one metric per name. */
function ownMetrics(supervisor: Supervisor | null): Metric[] {
  const byName = new Map<string, Metric & { samples: MetricSample[] }>()
  for (const m of Object.values(supervisor?.connectorMetrics() ?? {})) {
    for (const s of m.samples ?? []) {
      const metric = byName.get(s.name)
      const sample = { labels: s.labels, value: s.value }
      if (metric) metric.samples.push(sample)
      else byName.set(s.name, { name: s.name, help: s.help, type: s.type, samples: [sample] })
    }
  }
  return [...byName.values()]
}
