// @openfactory/alerts — rules over the machines' observations, raised, acknowledged and cleared on the log.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents.

// The alert event on `ofa_alerts`: what the alerts app writes and the webhooks, API and dashboard read.
export * from './alert-event.ts'
