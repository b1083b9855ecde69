import { call, get } from './api.ts'

/** Shapes and calls shared by the device pages (inventory v2 search, device authentication v2). */
export type Attribute = { name: string; scope: string; value: unknown }
export type InventoryDevice = { id: string; attributes: Attribute[]; updated_ts?: string }
export type AuthSet = {
  id: string
  pubkey: string
  identity_data: Record<string, unknown>
  status: string
  ts: string
}
export type AuthDevice = {
  id: string
  status: string
  identity_data: Record<string, unknown>
  auth_sets: AuthSet[]
  created_ts: string
  check_in_time?: string
}
export type Filter = { scope: string; attribute: string; type: string; value: unknown }
export type Column = { scope: string; attribute: string }
export type Sort = { scope: string; attribute: string; order: 'asc' | 'desc' }

export const STATUSES = ['accepted', 'pending', 'rejected', 'preauthorized', 'noauth'] as const
export type DeviceStatus = (typeof STATUSES)[number]

export const OPERATORS = [
  { value: '$eq', label: 'equals' },
  { value: '$ne', label: 'does not equal' },
  { value: '$in', label: 'is one of (comma-separated)' },
  { value: '$nin', label: 'is none of (comma-separated)' },
  { value: '$gt', label: 'greater than' },
  { value: '$gte', label: 'greater or equal' },
  { value: '$lt', label: 'less than' },
  { value: '$lte', label: 'less or equal' },
  { value: '$exists', label: 'exists' },
  { value: '$nexists', label: 'does not exist' },
  { value: '$regex', label: 'matches (regular expression)' },
]

export const DEFAULT_COLUMNS: Column[] = [
  { scope: 'inventory', attribute: 'device_type' },
  { scope: 'inventory', attribute: 'artifact_name' },
  { scope: 'system', attribute: 'group' },
  { scope: 'system', attribute: 'check_in_time' },
]

export const attr = (device: InventoryDevice, scope: string, name: string) =>
  device.attributes.find((a) => a.scope === scope && a.name === name)?.value

export function show(value: unknown): string {
  if (value === undefined || value === null) return '—'
  return Array.isArray(value) ? value.join(', ') : String(value)
}

/** The identity a person recognises a device by: its identity attributes, else its id. */
export function identityText(identity: Record<string, unknown> | undefined, id: string): string {
  const entries = Object.entries(identity ?? {})
  return entries.length > 0 ? entries.map(([k, v]) => `${k}: ${show(v)}`).join(', ') : id
}

export function deviceIdentity(device: InventoryDevice): string {
  const identity: Record<string, unknown> = {}
  for (const a of device.attributes)
    if (a.scope === 'identity' && a.name !== 'status') identity[a.name] = a.value
  return identityText(identity, device.id)
}

export type SearchQuery = {
  page: number
  perPage: number
  status?: DeviceStatus
  group?: string
  filters: Filter[]
  text: string
  sort?: Sort
  columns: Column[]
}

export async function searchDevices(q: SearchQuery): Promise<{ devices: InventoryDevice[]; total: number }> {
  const filters = [...q.filters]
  if (q.status) filters.push({ scope: 'identity', attribute: 'status', type: '$eq', value: q.status })
  if (q.group) filters.push({ scope: 'system', attribute: 'group', type: '$eq', value: q.group })
  const reply = await call<InventoryDevice[]>('POST', 'v2/inventory/filters/search', {
    body: {
      page: q.page,
      per_page: q.perPage,
      filters,
      ...(q.text.trim() ? { text: q.text.trim() } : {}),
      ...(q.sort ? { sort: [q.sort] } : {}),
      attributes: [{ scope: 'identity', attribute: 'status' }, ...identityColumns, ...q.columns],
    },
  })
  return { devices: reply.data, total: Number(reply.headers.get('x-total-count') ?? reply.data.length) }
}

// The table shows a device's identity; these are the identity attributes Mender clients send.
const identityColumns = ['mac', 'serial', 'sku', 'name'].map((attribute) => ({
  scope: 'identity',
  attribute,
}))

export async function countDevices(filters: Filter[]): Promise<number> {
  const reply = await call('POST', 'v2/inventory/filters/search', { body: { page: 1, per_page: 1, filters } })
  return Number(reply.headers.get('x-total-count') ?? 0)
}

/** The auth sets of these devices, for accepting or rejecting them. */
export async function authDevices(ids: string[]): Promise<AuthDevice[]> {
  if (ids.length === 0) return []
  return (
    await call<AuthDevice[]>('POST', `v2/devauth/devices/search?per_page=${ids.length}`, {
      body: { id: ids },
    })
  ).data
}

export const setAuthStatus = (deviceId: string, authId: string, status: 'accepted' | 'rejected') =>
  call('PUT', `v2/devauth/devices/${deviceId}/auth/${authId}/status`, { body: { status } })
export const dismissAuth = (deviceId: string, authId: string) =>
  call('DELETE', `v2/devauth/devices/${deviceId}/auth/${authId}`)
export const decommission = (deviceId: string) => call('DELETE', `v2/devauth/devices/${deviceId}`)
export const addToGroup = (group: string, ids: string[]) =>
  call('PATCH', `v1/inventory/groups/${encodeURIComponent(group)}/devices`, { body: ids })
export const removeFromGroup = (group: string, ids: string[]) =>
  call('DELETE', `v1/inventory/groups/${encodeURIComponent(group)}/devices`, { body: ids })
export const listGroups = () => get<string[]>('v1/inventory/groups')

export type BulkAction = 'accept' | 'reject' | 'dismiss' | 'decommission'

/** One action over many devices; accept and reject act on each device's newest auth set. */
export async function bulk(action: BulkAction, ids: string[]): Promise<void> {
  if (action === 'decommission') {
    await Promise.all(ids.map(decommission))
    return
  }
  const devices = await authDevices(ids)
  await Promise.all(
    devices.map((device) => {
      const set = [...device.auth_sets].sort((a, b) => b.ts.localeCompare(a.ts))[0]
      if (!set) return undefined
      if (action === 'dismiss') return dismissAuth(device.id, set.id)
      return setAuthStatus(device.id, set.id, action === 'accept' ? 'accepted' : 'rejected')
    }),
  )
}

type Settings = { value: Record<string, unknown>; etag: string | null }

async function mySettings(): Promise<Settings> {
  const reply = await call<Record<string, unknown>>('GET', 'v1/useradm/settings/me')
  return { value: reply.data ?? {}, etag: reply.headers.get('etag') }
}

const COLUMNS_KEY = 'console_device_columns'

export async function savedColumns(): Promise<Column[]> {
  const saved = (await mySettings()).value[COLUMNS_KEY]
  return Array.isArray(saved) ? (saved as Column[]) : DEFAULT_COLUMNS
}

/** Merges into the user's settings, guarded by the ETag so a parallel change is not lost silently. */
export async function saveColumns(columns: Column[]): Promise<void> {
  const { value, etag } = await mySettings()
  await call('POST', 'v1/useradm/settings/me', {
    body: { ...value, [COLUMNS_KEY]: columns },
    headers: etag ? { 'if-match': etag } : {},
  })
}
