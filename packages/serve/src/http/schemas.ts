/**
 * JSON Schemas of the HTTP API: they validate requests and document every route in the OpenAPI 3.1 document.
 * Response schemas are closed (`additionalProperties: false`) where the answer's fields are ours, and the tests
 * check every body they see against them (test/helpers/http.ts), so the document cannot drift from the answers.
 */

const errorObject = {
  type: 'object',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', pattern: '^OFA_', description: 'See docs/reference/errors.md' },
    message: { type: 'string' },
    where: { type: 'object', additionalProperties: true, description: 'The field at fault (`path`)' },
  },
} as const

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: { error: errorObject },
} as const

export const itemStateSchema = {
  $id: 'ItemState',
  type: 'object',
  description: 'One `uuid|id` entry of the current state',
  required: ['assetUuid', 'id', 'value', 'tag', 'type', 'timestamp', 'attributes'],
  additionalProperties: false,
  properties: {
    assetUuid: { type: 'string' },
    id: { type: 'string' },
    value: { type: ['number', 'string'], description: 'For a condition: the worst active level' },
    tag: { type: 'string' },
    type: { type: 'string', enum: ['Samples', 'Events', 'Condition', 'Method', 'OpenFactory', 'UNAVAILABLE'] },
    timestamp: { type: 'string', description: 'Source time, ISO-8601 UTC' },
    attributes: { type: 'object', additionalProperties: true },
    conditions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['level', 'nativeCode', 'timestamp'],
        additionalProperties: false,
        properties: {
          level: { type: 'string', enum: ['WARNING', 'FAULT', 'UNAVAILABLE'] },
          nativeCode: { type: 'string' },
          nativeSeverity: { type: 'string' },
          qualifier: { type: 'string' },
          message: { type: 'string' },
          timestamp: { type: 'string' },
        },
      },
    },
  },
} as const

const unsSchema = {
  type: ['object', 'null'],
  required: ['levels', 'unsId'],
  additionalProperties: false,
  properties: { levels: { type: 'object', additionalProperties: { type: 'string' } }, unsId: { type: 'string' } },
} as const

const assetCommon = {
  uuid: { type: 'string' },
  type: { type: 'string' },
  uns: unsSchema,
  referencesAbove: { type: 'array', items: { type: 'string' } },
  referencesBelow: { type: 'array', items: { type: 'string' } },
  availability: { type: 'string', enum: ['AVAILABLE', 'UNAVAILABLE'] },
  declared: { type: 'boolean', description: 'Declared in ofa_registry (else only seen on ofa_assets)' },
} as const

export const assetSummarySchema = {
  $id: 'AssetSummary',
  type: 'object',
  required: ['uuid', 'type', 'uns', 'referencesAbove', 'referencesBelow', 'availability', 'declared'],
  additionalProperties: false,
  properties: assetCommon,
} as const

export const assetSchema = {
  $id: 'Asset',
  type: 'object',
  required: [
    'uuid',
    'type',
    'uns',
    'referencesAbove',
    'referencesBelow',
    'availability',
    'declared',
    'dataItems',
    'methods',
    'state',
  ],
  additionalProperties: false,
  properties: {
    ...assetCommon,
    dataItems: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'category', 'tag'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          category: { type: 'string', enum: ['Samples', 'Events', 'Condition'] },
          tag: { type: 'string' },
          subType: { type: 'string' },
          units: { type: 'string' },
          nativeUnits: { type: 'string' },
          representation: { type: 'string' },
          name: { type: 'string' },
          constraints: { type: 'object', additionalProperties: true },
          filters: {
            type: 'object',
            additionalProperties: false,
            properties: { minimumDelta: { type: 'number' }, period: { type: 'number' } },
          },
          constantValue: { type: 'string' },
        },
      },
    },
    methods: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'description', 'arguments'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          arguments: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name'],
              additionalProperties: false,
              properties: {
                name: { type: 'string' },
                description: { type: 'string' },
                type: { type: 'string', enum: ['number', 'string', 'boolean', 'object'] },
                required: { type: 'boolean' },
              },
            },
          },
        },
      },
    },
    state: { type: 'array', items: { $ref: 'ItemState#' } },
    at: { type: 'string', description: 'With `?at=`: the instant the state is as of (ISO-8601 UTC)' },
  },
} as const

export const commandSchema = {
  $id: 'Command',
  type: 'object',
  required: ['correlationId', 'assetUuid', 'method', 'arguments', 'senderUuid', 'sentAt', 'status'],
  additionalProperties: false,
  properties: {
    correlationId: { type: 'string' },
    assetUuid: { type: 'string' },
    method: { type: 'string' },
    arguments: { type: 'object', additionalProperties: true },
    senderUuid: { type: 'string' },
    sentAt: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'accepted', 'completed', 'failed', 'rejected', 'timeout'] },
    result: { description: 'What the method returned (status completed)' },
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    answeredAt: { type: 'string' },
  },
} as const

export const historyItemSchema = {
  $id: 'HistoryItem',
  type: 'object',
  required: ['assetUuid', 'id', 'value', 'tag', 'type', 'timestamp', 'attributes', 'offset'],
  additionalProperties: false,
  properties: {
    assetUuid: { type: 'string' },
    id: { type: 'string' },
    value: { type: ['number', 'string'] },
    tag: { type: 'string' },
    type: { type: 'string' },
    timestamp: { type: 'string' },
    attributes: { type: 'object', additionalProperties: true },
    offset: { type: 'integer', description: 'Offset of the record in its ofa_assets partition' },
  },
} as const

const downsampledBucket = {
  type: 'object',
  required: ['t', 'count', 'min', 'max', 'avg', 'first', 'last', 'firstAt', 'lastAt'],
  additionalProperties: false,
  properties: {
    t: { type: 'string', description: 'Start of the bucket: from + k·intervalMs' },
    count: { type: 'integer', minimum: 1, description: 'Observations in the bucket' },
    min: { type: ['number', 'null'], description: 'Over numeric values only; null when there is none' },
    max: { type: ['number', 'null'] },
    avg: { type: ['number', 'null'] },
    first: { type: ['number', 'string'], description: 'Value of the earliest observation by source time' },
    last: { type: ['number', 'string'], description: 'Value of the latest observation by source time' },
    firstAt: { type: 'string' },
    lastAt: { type: 'string' },
  },
} as const

export const downsampledHistorySchema = {
  $id: 'DownsampledHistory',
  type: 'object',
  description: 'History of `GET /api/assets/{uuid}/history` with `buckets` or `interval`',
  required: ['from', 'to', 'intervalMs', 'series'],
  additionalProperties: false,
  properties: {
    from: { type: 'string' },
    to: { type: 'string' },
    intervalMs: { type: 'integer', minimum: 1 },
    series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'buckets'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          tag: { type: 'string' },
          type: { type: 'string' },
          units: { type: 'string' },
          buckets: { type: 'array', items: downsampledBucket, description: 'Non-empty buckets, in time order' },
        },
      },
    },
  },
} as const

export const healthSchema = {
  $id: 'Health',
  type: 'object',
  required: ['status', 'log', 'ready', 'lag', 'writes'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    log: { type: 'string', enum: ['ok', 'unreachable'] },
    ready: { type: 'boolean', description: 'The state has caught up with the log and follows it' },
    lag: { type: ['integer', 'null'], description: 'Records on the log not yet applied' },
    writes: {
      type: 'string',
      enum: ['ok', 'failing'],
      description:
        '`failing` while the last append of the serving layer (a command, an availability expiry) failed, or the log describes a partition of ofa_assets or ofa_registry with an error',
    },
    error: {
      type: 'string',
      description: 'Why not: the error that stopped the state (`OFA_...: message`), or why the log did not answer',
    },
    writeError: {
      type: 'string',
      description: 'Why writes fail: `OFA_...: what` and the message, per failing write or partition',
    },
  },
} as const

/** A WebSocket message or SSE event from the server (`/api/ws`, `/api/events`). */
export const liveMessageSchema = {
  $id: 'LiveMessage',
  oneOf: [
    {
      type: 'object',
      required: ['id', 'kind', 'data'],
      additionalProperties: false,
      properties: {
        id: { type: 'string' },
        kind: { const: 'snapshot' },
        data: { type: 'array', items: { $ref: 'ItemState#' } },
      },
    },
    {
      type: 'object',
      required: ['id', 'kind', 'data'],
      additionalProperties: false,
      properties: { id: { type: 'string' }, kind: { const: 'update' }, data: { $ref: 'ItemState#' } },
    },
    {
      type: 'object',
      required: ['id', 'kind', 'error'],
      additionalProperties: false,
      properties: { id: { type: ['string', 'null'] }, kind: { const: 'error' }, error: errorObject },
    },
  ],
} as const

export const SHARED_SCHEMAS = [
  healthSchema,
  errorSchema,
  itemStateSchema,
  assetSummarySchema,
  assetSchema,
  commandSchema,
  historyItemSchema,
  downsampledHistorySchema,
  liveMessageSchema,
] as const

export const errorResponses = {
  400: { description: 'Bad request', $ref: 'Error#' },
  404: { description: 'Not found', $ref: 'Error#' },
  415: { description: 'The body is not JSON', $ref: 'Error#' },
  503: { description: 'The log cannot be read (`OFA_LOG_*`) or the server is closing', $ref: 'Error#' },
} as const

export const uuidParams = {
  type: 'object',
  required: ['uuid'],
  additionalProperties: false,
  properties: { uuid: { type: 'string', minLength: 1 } },
} as const

export const limitSchema = (max: number, dflt: number) =>
  ({ type: 'integer', minimum: 1, maximum: max, default: dflt, description: `Page size (1–${max})` }) as const

export const cursorSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  description: 'Opaque: the `nextCursor` of the previous page',
} as const

export const timeSchema = (what: string) =>
  ({ type: 'string', description: `${what}: ISO-8601 or epoch milliseconds` }) as const

/** A paginated answer: `{items: [<ref>...], nextCursor}` (DESIGN §4: `limit` and an opaque cursor). */
export const pageSchema = (itemRef: string) =>
  ({
    type: 'object',
    required: ['items', 'nextCursor'],
    additionalProperties: false,
    properties: {
      items: { type: 'array', items: { $ref: itemRef } },
      nextCursor: { type: ['string', 'null'] },
    },
  }) as const

/** A page as of an instant (`?at=`): the page, and `at` when asked. */
export const pageAtSchema = (itemRef: string) =>
  ({
    ...pageSchema(itemRef),
    properties: {
      ...pageSchema(itemRef).properties,
      at: { type: 'string', description: 'With `?at=`: the instant the page is as of (ISO-8601 UTC)' },
    },
  }) as const
