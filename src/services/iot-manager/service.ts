import { type Leases, localLeases } from '../../cluster/leases.ts'
import type { Deps } from '../../deps.ts'
import {
  type DEVICE_EVENT_TYPES,
  EVENT_TYPES,
  type EventType,
  isEventType,
  type OutboxEvent,
} from '../../events/model.ts'
import type { EventsService } from '../../events/service.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import { createDeliverer } from './deliverer.ts'
import {
  type ApiIntegration,
  type Credentials,
  DEFAULT_EVENT_TYPES,
  type Integration,
  MAX_SECRET_LENGTH,
  type NewIntegration,
  type RecordedEvent,
} from './model.ts'
import type { IotManagerStore } from './store.ts'

/** Webhooks (Mender's iot-manager, webhook provider only): integrations, and the events sent to them. */
export interface IotManagerService {
  /** The tenant's integrations (`[]` when none). */
  listIntegrations(tenantId: string): Promise<ApiIntegration[]>
  /** One integration; 404 when unknown. */
  getIntegration(tenantId: string, id: string): Promise<ApiIntegration>
  /** Adds a webhook; 400 for the cloud providers and bad URLs or secrets, 409 when the tenant has one. Answers its id. */
  createIntegration(tenantId: string, input: NewIntegration): Promise<string>
  /** Removes the integration and its unsent deliveries; 404 when unknown. */
  deleteIntegration(tenantId: string, id: string): Promise<void>
  /** Replaces the webhook's URL and secret; 404 when unknown. */
  setCredentials(tenantId: string, id: string, credentials: Credentials): Promise<void>
  /** Recorded events, newest first, with each integration's delivery state. */
  listEvents(tenantId: string, integrationId: string | undefined, paging: Paging): Promise<ApiEvent[]>
  /** A device's cloud states by integration: `{}`, webhooks keep none; 404 for an unknown device. */
  deviceStates(tenantId: string, deviceId: string): Promise<Record<string, never>>
  /** One integration's state of a device: always 404 here (webhooks keep no device state). */
  deviceState(tenantId: string, deviceId: string, integrationId: string): Promise<never>
  /** Removes the device's cloud integrations: nothing to remove with webhooks; 404 for an unknown device. */
  removeDevice(tenantId: string, deviceId: string): Promise<void>
  /**
   * Sends device events as Mender's internal API asks (a device provisioned, decommissioned, its
   * status changed): written to the outbox like deviceauth's own, so every listener hears them.
   */
  announce(tenantId: string, type: DeviceEventType, devices: readonly DeviceEventData[]): Promise<void>
  /** Deletes the tenant's integrations and recorded events. */
  deleteTenant(tenantId: string): Promise<void>
  /** Stops delivering (deliveries in flight are sent again at the next start). */
  stop(): void
}

export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number]
/** Mender's device event data: `id`, plus `status`, `auth_sets`, `created_ts` where the type has them. */
export type DeviceEventData = { id: string; [key: string]: unknown }

export type ApiEvent = {
  id: string
  type: EventType
  data: Record<string, unknown>
  time: string
  delivery_statuses: {
    integration_id: string
    success: boolean
    status_code?: number
    error?: string
    state: string
    attempts: number
  }[]
}

/** What iot-manager asks of deviceauth: whether a device exists. */
export type IotManagerDevices = { exists(tenantId: string, deviceId: string): Promise<boolean> }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** How often the unsent deliveries of each webhook are held to their bound. */
const BOUND_MS = 10_000
const PRUNE_MS = 3_600_000

const CLOUDS: Record<string, string> = {
  'iot-hub': 'Azure IoT Hub',
  'iot-core': 'AWS IoT Core',
  sas: 'Azure IoT Hub',
  aws: 'AWS IoT Core',
}
const noCloud = (what: string) =>
  new BadRequestError(
    `${CLOUDS[what]} is not supported: this server does not connect to cloud IoT services; use a webhook`,
  )

/** The webhook's URL and secret from Mender's credentials, checked. */
function webhookTarget(credentials: Credentials): { url: string; secret: string | null } {
  if (CLOUDS[credentials.type]) throw noCloud(credentials.type)
  if (credentials.type !== 'http' || !credentials.http) {
    throw new BadRequestError('credentials: type must be http, with http.url')
  }
  let url: URL
  try {
    url = new URL(credentials.http.url)
  } catch {
    throw new BadRequestError('credentials: http.url must be an absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadRequestError('credentials: http.url must be an http or https URL')
  }
  if (url.username || url.password)
    throw new BadRequestError('credentials: http.url must not carry a user or password')
  const secret = credentials.http.secret ?? null
  if (secret !== null && (!/^([0-9a-fA-F]{2})+$/.test(secret) || secret.length > MAX_SECRET_LENGTH)) {
    throw new BadRequestError(
      `credentials: http.secret must be hexadecimal, an even number of digits, at most ${MAX_SECRET_LENGTH}`,
    )
  }
  return { url: url.href, secret: secret?.toLowerCase() ?? null }
}

function eventTypesOf(events: readonly string[] | undefined): EventType[] {
  if (events === undefined) return [...DEFAULT_EVENT_TYPES]
  if (events.length === 0) throw new BadRequestError('events: name at least one event type')
  const unknown = events.filter((type) => !isEventType(type))
  if (unknown.length > 0) {
    throw new BadRequestError(`events: unknown ${unknown.join(', ')}; known: ${EVENT_TYPES.join(', ')}`)
  }
  return [...new Set(events as EventType[])]
}

const toApiIntegration = (integration: Integration): ApiIntegration => ({
  id: integration.id,
  provider: integration.provider,
  credentials: {
    type: 'http',
    // The secret is never shown again, as in Mender.
    http: { url: integration.url, ...(integration.secret ? { secret: '<omitted>' } : {}) },
  },
  ...(integration.description ? { description: integration.description } : {}),
  events: integration.eventTypes,
})

const toApiEvent = (event: RecordedEvent): ApiEvent => ({
  id: event.id,
  type: event.type,
  data: event.data,
  time: event.time.toISOString(),
  delivery_statuses: event.deliveries.map((d) => ({
    integration_id: d.integrationId,
    success: d.state === 'delivered',
    ...(d.statusCode !== null ? { status_code: d.statusCode } : {}),
    ...(d.state !== 'delivered' ? { error: d.error ?? 'not sent yet' } : {}),
    state: d.state,
    attempts: d.attempts,
  })),
})

export function createIotManagerService(
  deps: Pick<Deps, 'stores' | 'clock' | 'ids' | 'log' | 'config'>,
  peers: { events: Pick<EventsService, 'subscribeDurable'>; devices: IotManagerDevices; leases?: Leases },
  store: IotManagerStore = deps.stores.iotManager,
): IotManagerService {
  const leases = peers.leases ?? localLeases()
  const { clock, ids, log, config } = deps
  /**
   * Sending, bounding and pruning run on one instance at a time (the lease `webhooks`): deliveries
   * are rows, so the instance that takes the lease over sends what its predecessor left unsent,
   * and no two instances send the same delivery.
   */
  let deliverer: ReturnType<typeof createDeliverer> | undefined
  const endDelivering = leases.run('webhooks', () => {
    const sending = createDeliverer({
      store,
      clock,
      log,
      timeoutMs: config.webhookTimeoutSeconds * 1000,
      maxAttempts: config.webhookMaxAttempts,
    })
    deliverer = sending
    const bound = setInterval(() => {
      store
        .dropExcess(config.webhookMaxPending)
        .catch((err) => log.error('bounding webhook queues failed', { err }))
    }, BOUND_MS)
    const pruner = setInterval(() => {
      const before = new Date(clock.now().getTime() - config.eventRetentionSeconds * 1000)
      store
        .prune(before, config.eventMaxCount)
        .catch((err) => log.error('pruning webhook events failed', { err }))
    }, PRUNE_MS)
    bound.unref()
    pruner.unref()
    return () => {
      clearInterval(bound)
      clearInterval(pruner)
      sending.stop()
      if (deliverer === sending) deliverer = undefined
    }
  })

  /**
   * Records an event for every integration of its tenant that wants it; they are sent from there.
   * Recording is idempotent (a repeat after a restart or a lease moving records nothing new).
   */
  async function record(event: OutboxEvent): Promise<void> {
    const wanted = (await store.listIntegrations(event.tenantId)).filter((i) =>
      i.eventTypes.includes(event.type),
    )
    if (wanted.length === 0) return
    await store.recordEvent(
      event,
      wanted.map((i) => i.id),
      clock.now(),
    )
    // Another instance holding the lease finds the new rows at its next tick.
    deliverer?.wake()
  }
  const stopFollowing = peers.events.subscribeDurable('iot-manager', record)

  async function requireIntegration(tenantId: string, id: string): Promise<Integration> {
    const integration = await store.findIntegration(tenantId, id)
    if (!integration) throw new NotFoundError('integration not found')
    return integration
  }

  async function requireDevice(tenantId: string, deviceId: string): Promise<void> {
    if (!(await peers.devices.exists(tenantId, deviceId))) throw new NotFoundError('device not found')
  }

  return {
    listIntegrations: async (tenantId) => (await store.listIntegrations(tenantId)).map(toApiIntegration),

    getIntegration: async (tenantId, id) => toApiIntegration(await requireIntegration(tenantId, id)),

    async createIntegration(tenantId, input) {
      if (CLOUDS[input.provider]) throw noCloud(input.provider)
      if (input.provider !== 'webhook') throw new BadRequestError('provider: must be webhook')
      const { url, secret } = webhookTarget(input.credentials)
      const integration: Integration = {
        id: ids.uuid(),
        tenantId,
        provider: 'webhook',
        url,
        secret,
        description: input.description ?? '',
        eventTypes: eventTypesOf(input.events),
        createdTs: clock.now(),
      }
      if (!(await store.insertIntegration(integration))) throw new ConflictError('integration already exists')
      return integration.id
    },

    async deleteIntegration(tenantId, id) {
      if (!(await store.deleteIntegration(tenantId, id))) throw new NotFoundError('integration not found')
    },

    async setCredentials(tenantId, id, credentials) {
      await requireIntegration(tenantId, id)
      const { url, secret } = webhookTarget(credentials)
      if (!(await store.setCredentials(tenantId, id, url, secret)))
        throw new NotFoundError('integration not found')
    },

    async listEvents(tenantId, integrationId, paging) {
      if (integrationId !== undefined && !UUID.test(integrationId)) {
        throw new BadRequestError('integration_id: must be a valid UUID')
      }
      return (await store.listEvents(tenantId, integrationId, pageOffset(paging), paging.perPage)).map(
        toApiEvent,
      )
    },

    async deviceStates(tenantId, deviceId) {
      await requireDevice(tenantId, deviceId)
      return {}
    },

    async deviceState(tenantId, deviceId, integrationId) {
      if (!UUID.test(integrationId)) throw new BadRequestError('integration ID is not a valid UUID')
      await requireDevice(tenantId, deviceId)
      // A device is attached only to cloud integrations, which this server does not make.
      throw new NotFoundError('integration not found')
    },

    async removeDevice(tenantId, deviceId) {
      await requireDevice(tenantId, deviceId)
    },

    async announce(tenantId, type, devices) {
      await store.announce(
        devices.map((data) => ({ tenantId, type, subject: data.id, data, time: clock.now() })),
      )
    },

    deleteTenant: (tenantId) => store.deleteTenant(tenantId),

    stop() {
      stopFollowing()
      // Local leases end at once; a PostgreSQL lease is given up in the background.
      void endDelivering()
    },
  }
}
