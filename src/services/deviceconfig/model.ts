import { type Static, t } from 'elysia'

/** Mender's limits on a configuration: at most 100 keys; keys 1-4096 characters, values up to 4096. */
export const MAX_ATTRIBUTES = 100
export const MAX_KEY_LENGTH = 4096
export const MAX_VALUE_LENGTH = 4096

export type Attributes = Record<string, string>

/** A device's configuration as stored. */
export type DeviceConfiguration = {
  tenantId: string
  id: string
  configured: Attributes
  reported: Attributes
  deploymentId: string | null
  updatedTs: Date
  reportedTs: Date | null
}

const attributes = t.Record(
  t.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
  t.String({ maxLength: MAX_VALUE_LENGTH }),
  {
    maxProperties: MAX_ATTRIBUTES,
    description: `Keys and values are strings: at most ${MAX_ATTRIBUTES} keys of 1 to ${MAX_KEY_LENGTH} characters, values up to ${MAX_VALUE_LENGTH}.`,
  },
)

export const DeviceconfigModel = {
  attributes,
  deviceParams: t.Object({ id: t.String({ maxLength: 128 }) }),
  newTenant: t.Object({ tenant_id: t.String({ maxLength: 128 }) }),
  newDevice: t.Object({ device_id: t.String({ minLength: 1, maxLength: 128 }) }),
  deploy: t.Object({
    retries: t.Optional(
      t.Integer({
        minimum: 0,
        maximum: 100,
        description: "More attempts the device gets after a failed one (as a deployment's retries).",
      }),
    ),
    update_control_map: t.Optional(t.Unknown({ description: 'Not supported (an Enterprise feature).' })),
  }),
  deployed: t.Object({ deployment_id: t.String() }),
  device: t.Object({
    id: t.String(),
    configured: attributes,
    reported: attributes,
    deployment_id: t.Optional(t.String()),
    updated_ts: t.String({ format: 'date-time' }),
    reported_ts: t.Optional(t.String({ format: 'date-time' })),
  }),
}

export type ApiDeviceConfiguration = Static<typeof DeviceconfigModel.device>
