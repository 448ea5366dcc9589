/**
 * The `alerts:` block of an app (ours): alert rules evaluated on the log (@openfactory/alerts). Filled in by the
 * alerts' work; the block's fields are documented in docs/reference/apps.md.
 */
import { Type } from '@sinclair/typebox'

export const AlertsSpec = Type.Object({}, { additionalProperties: false })
