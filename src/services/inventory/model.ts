import { t } from 'elysia'

/** Attribute scopes, in Mender's words. */
export const SCOPES = ['identity', 'inventory', 'system', 'tags', 'monitor'] as const
export type Scope = (typeof SCOPES)[number]
export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value)

/**
 * Device auth statuses as stored on rows (a one-byte code instead of the word on 25 million index
 * entries). 0 is a device inventory knows before deviceauth told it anything.
 */
export const STATUS_CODES = {
  '': 0,
  accepted: 1,
  pending: 2,
  rejected: 3,
  preauthorized: 4,
  noauth: 5,
} as const
export const ALL_STATUS_CODES: readonly number[] = Object.values(STATUS_CODES)

export const statusCode = (status: string): number | undefined =>
  Object.hasOwn(STATUS_CODES, status) ? STATUS_CODES[status as keyof typeof STATUS_CODES] : undefined

/** Mender's limits: inventory attributes a device may have, tags a user may set. */
export const MAX_INVENTORY_ATTRIBUTES = 100
export const MAX_TAGS = 20
export const MAX_NAME_LENGTH = 1024
/**
 * bender's bounds on one attribute value (Mender has none): every array element is a row and two
 * index entries. With 100 attributes a device's inventory stays under ~1.7 MiB, names included.
 */
export const MAX_ARRAY_ELEMENTS = 1024
export const MAX_VALUE_BYTES = 16 * 1024
export const MAX_GROUP_NAME_LENGTH = 256
/** Deleting a group or removing devices from it takes Mender's older, longer limit. */
export const MAX_LEGACY_GROUP_NAME_LENGTH = 1024
export const GROUP_NAME = /^[A-Za-z0-9_-]*$/

export type AttributeValue = string | number | string[] | number[]

/** An attribute as the API shows it. */
export type Attribute = {
  name: string
  value: AttributeValue
  scope: string
  description?: string
  timestamp?: string
}

export type Device = {
  id: string
  attributes: Attribute[]
  updated_ts?: string
  identities?: AttributeValue[]
}

const timestamp = t.String({ format: 'date-time' })
const attributeValue = t.Union([t.String(), t.Number(), t.Array(t.String()), t.Array(t.Number())], {
  description: 'A string, a number, or an array of only strings or only numbers.',
})
/**
 * The name's length is the schema's; values are checked by the service (Mender's exact message,
 * every item before anything is stored; a union's failure would not carry its own message), so
 * `value` stays unknown here.
 */
const attributeInput = t.Object({
  name: t.String({
    minLength: 1,
    maxLength: MAX_NAME_LENGTH,
    error: `attribute name must be 1 to ${MAX_NAME_LENGTH} characters`,
  }),
  value: t.Unknown({ description: attributeValue.description }),
  description: t.Optional(t.String()),
})

/** Longest lists a search takes: every entry is a join, a sort key or a lookup of the query. */
const MAX_SEARCH_LIST = { filters: 100, sort: 20, attributes: 1000, device_ids: 10_000 } as const
const searchList = (field: keyof typeof MAX_SEARCH_LIST) => ({
  maxItems: MAX_SEARCH_LIST[field],
  error: `${field}: at most ${MAX_SEARCH_LIST[field]} entries`,
})

const scopeSchema = t.String({ description: 'identity, inventory, system, tags or monitor' })

/** A term of a saved filter: a predicate of `filters/search`. */
const filterTerm = t.Object({
  scope: t.String({ maxLength: 64 }),
  attribute: t.String({ maxLength: 1024 }),
  type: t.String({ maxLength: 16, description: '$eq $ne $gt $gte $lt $lte $in $nin $exists $regex' }),
  value: t.Unknown(),
})

export const InventoryModel = {
  attributesInput: t.Array(attributeInput),
  attribute: t.Object({
    name: t.String(),
    value: attributeValue,
    scope: t.String(),
    description: t.Optional(t.String()),
    timestamp: t.Optional(timestamp),
  }),
  device: t.Object({
    id: t.String(),
    attributes: t.Array(
      t.Object({
        name: t.String(),
        value: attributeValue,
        scope: t.String(),
        description: t.Optional(t.String()),
        timestamp: t.Optional(timestamp),
      }),
    ),
    updated_ts: t.Optional(timestamp),
    identities: t.Optional(t.Array(attributeValue)),
  }),
  idParams: t.Object({ id: t.String() }),
  nameParams: t.Object({ name: t.String() }),
  deviceGroupParams: t.Object({ id: t.String(), name: t.String() }),
  group: t.Object({ group: t.Unknown({ description: 'Group name: letters, digits, - and _ (1-256).' }) }),
  groupReply: t.Object({ group: t.Nullable(t.String()) }),
  deviceIds: t.Array(t.String()),
  updateResult: t.Object({
    matched_count: t.Optional(t.Integer()),
    updated_count: t.Optional(t.Integer()),
  }),
  listQuery: t.Object(
    {
      page: t.Optional(t.String({ description: 'Page number, from 1.' })),
      per_page: t.Optional(t.String({ description: 'Results per page (default 20, max 500).' })),
      sort: t.Optional(
        t.String({ description: '[scope/]attribute[:asc|desc], one attribute, desc by default.' }),
      ),
      has_group: t.Optional(t.String({ description: 'true: only grouped devices; false: only ungrouped.' })),
      group: t.Optional(t.String({ description: 'Only devices of this group.' })),
    },
    {
      additionalProperties: true,
      description: 'Any other parameter `[scope/]attribute=[eq:]value` filters on that attribute.',
    },
  ),
  pagingQuery: t.Object({
    page: t.Optional(t.String({ description: 'Page number, from 1.' })),
    per_page: t.Optional(t.String({ description: 'Results per page (default 20, max 500).' })),
  }),
  groupsQuery: t.Object({
    status: t.Optional(t.String({ description: 'Only groups with devices of this auth status.' })),
  }),
  ifMatch: t.Object({ 'if-match': t.Optional(t.String()) }),
  savedFilter: t.Object({ id: t.String(), name: t.String(), terms: t.Array(filterTerm) }),
  filterDefinition: t.Object({
    name: t.String({ minLength: 1, maxLength: 1024 }),
    terms: t.Array(filterTerm, { minItems: 1, maxItems: 100 }),
  }),
  filterParams: t.Object({ id: t.String({ maxLength: 64 }) }),
  searchBody: t.Object({
    page: t.Optional(t.Number()),
    per_page: t.Optional(t.Number()),
    filters: t.Optional(
      t.Array(
        t.Object({
          scope: t.String(),
          attribute: t.String(),
          type: t.String({ description: '$eq $ne $gt $gte $lt $lte $in $nin $exists $regex' }),
          value: t.Unknown(),
        }),
        searchList('filters'),
      ),
    ),
    sort: t.Optional(
      t.Array(t.Object({ scope: t.String(), attribute: t.String(), order: t.String() }), searchList('sort')),
    ),
    attributes: t.Optional(
      t.Array(t.Object({ scope: t.String(), attribute: t.String() }), searchList('attributes')),
    ),
    device_ids: t.Optional(t.Array(t.String(), searchList('device_ids'))),
    text: t.Optional(t.String()),
  }),
  identitySearchBody: t.Object({
    scope: t.String({ description: 'identity or tags' }),
    name: t.String(),
    value_prefix: t.String(),
    attributes: t.Optional(t.Array(t.Object({ scope: scopeSchema, attribute: t.String() }))),
    page: t.Optional(t.Number()),
    per_page: t.Optional(t.Number()),
  }),
  filterAttribute: t.Object({ name: t.String(), scope: t.String(), count: t.Integer() }),
  statistics: t.Object({
    devices_by_status: t.Object({
      accepted: t.Object({ standard: t.Integer(), micro: t.Integer(), system: t.Integer() }),
      pending: t.Object({ standard: t.Integer(), micro: t.Integer(), system: t.Integer() }),
    }),
  }),
}
