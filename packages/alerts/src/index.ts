// @openfactory/alerts — rules over the machines' observations, raised, acknowledged and cleared on the log.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents.

// The alert event on `ofa_alerts`: what the alerts app writes and the webhooks, API and dashboard read.
export * from './alert-event.ts'
// The control topic `ofa_alerts_control`: acks from the API and the ticks that bring time to the evaluation.
export * from './control.ts'
// The rules of an app, typed from its `alerts:` block, and which assets they target.
export * from './rules.ts'
// The evaluation: a deterministic function of the log and the task's stores (exactly once through sql's runtime).
export * from './evaluator.ts'
// The app kind `alerts:` (registered when this module loads): the processor, its ticks, its topics.
export * from './alerts-app.ts'
// The open alerts for the API: a view of ofa_alerts; acks written to the control topic.
export * from './alerts-view.ts'
