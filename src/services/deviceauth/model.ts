import { type Static, t } from 'elysia'
import { pagingQuery } from '../../gateway/paging.ts'

/** Auth set and device statuses; a device's is derived from its auth sets (`noauth` when it has none). */
export const DEVICE_STATUSES = ['pending', 'accepted', 'rejected', 'preauthorized', 'noauth'] as const
export type DeviceStatus = (typeof DEVICE_STATUSES)[number]

const timestamp = t.String({ format: 'date-time' })
const identityData = t.Record(t.String(), t.Unknown(), {
  description: 'Device identity attributes (vendor-specific, e.g. mac, sku, sn).',
})
const stringOrList = (description: string) =>
  t.Optional(t.Union([t.String(), t.Array(t.String())], { description }))

const authSet = t.Object({
  id: t.String(),
  identity_data: identityData,
  pubkey: t.String({ description: 'PKIX PEM public key.' }),
  ts: timestamp,
  status: t.String(),
})

export const DeviceauthModel = {
  authSet,
  device: t.Object({
    id: t.String(),
    identity_data: identityData,
    status: t.String(),
    decommissioning: t.Boolean(),
    created_ts: timestamp,
    updated_ts: timestamp,
    auth_sets: t.Array(authSet),
    check_in_time: t.Optional(timestamp),
  }),
  devicesQuery: t.Object({
    status: t.Optional(
      t.Array(t.String(), { description: 'Only devices with these statuses (repeatable).' }),
    ),
    id: t.Optional(t.Array(t.String(), { description: 'Only these device ids (repeatable).' })),
    ...pagingQuery,
  }),
  searchBody: t.Nullable(
    t.Object({
      status: stringOrList('Device status, or a list of them.'),
      id: stringOrList('Device id, or a list of them.'),
    }),
  ),
  countQuery: t.Object({
    status: t.Optional(t.String({ description: 'Count only devices with this status.' })),
  }),
  preauthorization: t.Object({
    // Unknown, not a record: Elysia would coerce a string or an array into an object here; the service checks it.
    identity_data: t.Unknown({
      description: 'Device identity attributes: a JSON object (e.g. mac, sku, sn).',
    }),
    pubkey: t.String({ description: 'PKIX PEM public key: RSA, ECDSA P-256/P-384/P-521 or Ed25519.' }),
    force: t.Optional(t.Boolean({ description: 'Add the auth set even if the identity is already known.' })),
  }),
  status: t.Object({ status: t.String({ description: 'pending, accepted or rejected.' }) }),
  count: t.Object({ count: t.Integer() }),
  limit: t.Object({ limit: t.Integer({ description: 'Maximum accepted devices; 0 means no limit.' }) }),
  deviceParams: t.Object({ id: t.String() }),
  authSetParams: t.Object({ id: t.String(), aid: t.String() }),
  limitParams: t.Object({ name: t.String() }),
}

export type ApiDevice = Static<typeof DeviceauthModel.device>
