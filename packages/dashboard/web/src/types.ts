/** The serving layer's shapes the dashboard reads (docs/reference/http-api.md "Shapes"). */

export type ItemType = 'Samples' | 'Events' | 'Condition' | 'Method' | 'OpenFactory' | 'UNAVAILABLE'

export interface ActiveCondition {
  readonly level: 'WARNING' | 'FAULT' | 'UNAVAILABLE'
  readonly nativeCode: string
  readonly nativeSeverity?: string
  readonly qualifier?: string
  readonly message?: string
  readonly timestamp: string
}

/** One `uuid|id` entry of the state. */
export interface ItemState {
  readonly assetUuid: string
  readonly id: string
  readonly value: number | string
  readonly tag: string
  readonly type: ItemType
  readonly timestamp: string
  readonly attributes: Readonly<Record<string, unknown>>
  readonly conditions?: readonly ActiveCondition[]
}

export interface HistoryItem extends ItemState {
  readonly offset: number
}

export interface Uns {
  readonly levels: Readonly<Record<string, string>>
  readonly unsId: string
}

export interface AssetSummary {
  readonly uuid: string
  readonly type: string
  readonly uns: Uns | null
  readonly referencesAbove: readonly string[]
  readonly referencesBelow: readonly string[]
  readonly availability: 'AVAILABLE' | 'UNAVAILABLE'
  readonly declared: boolean
}

export interface DataItem {
  readonly id: string
  readonly category: 'Samples' | 'Events' | 'Condition'
  readonly tag: string
  readonly subType?: string
  readonly units?: string
  readonly name?: string
}

export interface MethodArgument {
  readonly name: string
  readonly description?: string
  readonly type?: 'number' | 'string' | 'boolean' | 'object'
  readonly required?: boolean
}

export interface MethodContract {
  readonly name: string
  readonly description: string
  readonly arguments: readonly MethodArgument[]
}

export interface Asset extends AssetSummary {
  readonly dataItems: readonly DataItem[]
  readonly methods: readonly MethodContract[]
  readonly state: readonly ItemState[]
  /** With `?at=`: the instant the state is of. */
  readonly at?: string
}

export interface Command {
  readonly correlationId: string
  readonly assetUuid: string
  readonly method: string
  readonly arguments: Readonly<Record<string, unknown>>
  readonly senderUuid: string
  readonly sentAt: string
  readonly status: 'pending' | 'accepted' | 'completed' | 'failed' | 'rejected' | 'timeout'
  readonly result?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  readonly answeredAt?: string
}

export interface Me {
  readonly id: string
  readonly kind: 'key' | 'token' | 'open'
  readonly name?: string
  readonly role: 'viewer' | 'operator' | 'admin'
  readonly scopes: readonly string[]
}

export interface DocumentSummary {
  readonly assetId: string
  readonly type: string
  readonly deviceUuid: string
  readonly timestamp: string
  readonly removed: boolean
  readonly bytes: number
}

export interface Health {
  readonly status: 'ok' | 'unavailable'
  readonly log: 'ok' | 'unreachable'
  readonly ready: boolean
  readonly lag: number | null
  readonly writes: 'ok' | 'failing'
  readonly error?: string
  readonly writeError?: string
}

/** Downsampled history (`GET /api/assets/{uuid}/history?buckets=`): one bucket of one series. */
export interface Bucket {
  readonly t: string
  readonly count: number
  readonly min: number | null
  readonly max: number | null
  readonly avg: number | null
  readonly first: unknown
  readonly last: unknown
  readonly firstAt?: string
  readonly lastAt?: string
}

export interface Series {
  readonly id: string
  readonly tag?: string
  readonly type?: string
  readonly units?: string
  readonly buckets: readonly Bucket[]
}

export interface Downsampled {
  readonly from: string
  readonly to: string
  readonly intervalMs: number
  readonly series: readonly Series[]
}
