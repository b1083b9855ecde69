import { type Static, t } from 'elysia'
import { DEVICE_EVENT_TYPES, EVENT_TYPES, type EventType } from '../../events/model.ts'

export type DeliveryState = 'pending' | 'delivered' | 'failed'

/** Mender's webhook events; an integration that names no `events` gets these. */
export const DEFAULT_EVENT_TYPES: readonly EventType[] = DEVICE_EVENT_TYPES

export const MAX_URL_LENGTH = 2048
export const MAX_DESCRIPTION_LENGTH = 1024
export const MAX_SECRET_LENGTH = 64

/** A stored integration. */
export type Integration = {
  id: string
  tenantId: string
  provider: 'webhook'
  url: string
  secret: string | null
  description: string
  eventTypes: EventType[]
  createdTs: Date
}

/** A recorded event with what became of it at each integration. */
export type RecordedEvent = {
  id: string
  seq: number
  type: EventType
  data: Record<string, unknown>
  time: Date
  deliveries: {
    integrationId: string
    state: DeliveryState
    attempts: number
    statusCode: number | null
    error: string | null
  }[]
}

const credentials = t.Object(
  {
    type: t.String({ maxLength: 16, description: '`http` (webhook); `sas` and `aws` are refused.' }),
    http: t.Optional(
      t.Object({
        url: t.String({ maxLength: MAX_URL_LENGTH, description: 'An http or https URL.' }),
        secret: t.Optional(
          t.String({ maxLength: MAX_SECRET_LENGTH, description: 'Hex; its bytes are the HMAC-SHA256 key.' }),
        ),
      }),
    ),
    connection_string: t.Optional(t.String({ maxLength: 4096 })),
    aws: t.Optional(t.Unknown()),
  },
  { additionalProperties: true },
)

const eventTypes = t.Array(t.String({ maxLength: 64 }), {
  maxItems: EVENT_TYPES.length,
  description: `bender's own: which events to send, of ${EVENT_TYPES.join(', ')}. Default: the three device events.`,
})

export const IotManagerModel = {
  credentials,
  newIntegration: t.Object({
    provider: t.String({ maxLength: 16, description: '`webhook`; `iot-hub` and `iot-core` are refused.' }),
    credentials,
    description: t.Optional(t.String({ maxLength: MAX_DESCRIPTION_LENGTH })),
    events: t.Optional(eventTypes),
  }),
  integration: t.Object({
    id: t.String(),
    provider: t.String(),
    credentials: t.Object({
      type: t.Literal('http'),
      http: t.Object({ url: t.String(), secret: t.Optional(t.String()) }),
    }),
    description: t.Optional(t.String()),
    events: eventTypes,
  }),
  idParams: t.Object({ id: t.String({ maxLength: 64 }) }),
  deviceParams: t.Object({ deviceId: t.String({ maxLength: 128 }) }),
  deviceStateParams: t.Object({
    deviceId: t.String({ maxLength: 128 }),
    integrationId: t.String({ maxLength: 64 }),
  }),
  eventsQuery: t.Object({
    page: t.Optional(t.Numeric({ default: 1 })),
    per_page: t.Optional(t.Numeric({ default: 20 })),
    integration_id: t.Optional(t.String({ maxLength: 64 })),
  }),
  event: t.Object({
    id: t.String(),
    type: t.String(),
    data: t.Record(t.String(), t.Unknown()),
    time: t.String({ format: 'date-time' }),
    delivery_statuses: t.Array(
      t.Object({
        integration_id: t.String(),
        success: t.Boolean(),
        status_code: t.Optional(t.Integer()),
        error: t.Optional(t.String()),
        state: t.String({ description: "bender's own: pending, delivered or failed." }),
        attempts: t.Integer({ description: "bender's own: requests made so far." }),
      }),
    ),
  }),
  deviceState: t.Object({ desired: t.Optional(t.Unknown()), reported: t.Optional(t.Unknown()) }),
}

export type ApiIntegration = Static<typeof IotManagerModel.integration>
export type NewIntegration = Static<typeof IotManagerModel.newIntegration>
export type Credentials = Static<typeof credentials>
