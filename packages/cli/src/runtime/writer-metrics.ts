// Metrics of the supervisor's writes to the log, for /metrics (serve's `extraMetrics`).
import type { Supervisor } from '@openfactory/connectors'
import type { Metric } from '@openfactory/serve'

/** Records waiting, dropped (buffer full) and set aside (refused for good by the log, by code). */
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
      help: 'Records dropped because the write buffer was full while the log could not take writes.',
      type: 'counter',
      samples: [{ value: s?.dropped ?? 0 }],
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
