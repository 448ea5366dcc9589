/**
 * The `historian:` block of an app (ours): observations into PostgreSQL (@openfactory/historian). Filled in by the
 * historian's work; the block's fields are documented in docs/reference/apps.md.
 */
import { Type } from '@sinclair/typebox'

export const HistorianSpec = Type.Object({}, { additionalProperties: false })
