// Metrics of the supervisor's writes to the log, for /metrics (serve's `extraMetrics`).
import type { Supervisor } from '@openfactory/connectors'
import type { Metric } from '@openfactory/serve'

/** Records waiting, dropped (a connector past its cap, by connector), congested connectors, and set aside (by code). */
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
      name: 'ofa_connector_records_set_aside_total',
      help: 'Records the log refused for good (by error code): logged once each, never retried.',
      type: 'counter',
      labelNames: ['code'],
      samples: Object.entries(s?.setAside ?? {}).map(([code, value]) => ({ labels: { code }, value })),
    },
  ]
}
