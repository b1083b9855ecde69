import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { FleetGaugeReader } from './gauges.ts'

/** Mender's service names as they appear in paths; anything else is counted as `other`, so no client can mint labels. */
const SERVICES = new Set([
  'useradm',
  'devauth',
  'authentication',
  'inventory',
  'deployments',
  'deviceconnect',
  'deviceconfig',
  'iot-manager',
])
const AUDIENCES = new Set(['devices', 'management', 'internal'])

/** `devices/deployments`, `management/inventory`, ... from `/api/<audience>/<version>/<service>/...`. */
export function routeGroup(path: string): string {
  const [, api, audience = '', , service = ''] = path.split('/', 5)
  if (api !== 'api' || !AUDIENCES.has(audience)) return 'other'
  return `${audience}/${SERVICES.has(service) ? service : 'other'}`
}

const POLL = /^\/api\/devices\/v[12]\/deployments\/device\/deployments\/next\/?$/
const STATUS_WRITE = /^\/api\/devices\/v1\/deployments\/device\/deployments\/[^/]+\/status\/?$/
const AUTH_REQUEST = /^\/api\/devices\/v1\/authentication\/auth_requests\/?$/

export type Metrics = {
  /** Counts one answered API request (`group` overrides the route group, e.g. `storage`). */
  observe(method: string, path: string, status: number, seconds: number, group?: string): void
  /** The text exposition of every metric. */
  render(): Promise<string>
  readonly contentType: string
  stop(): void
}

/** Where the fleet and database gauges come from, on the engine in use. */
export type MetricsSource = {
  fleet: FleetGaugeReader
  /** The database's size in bytes (SQLite's file, or PostgreSQL's `pg_database_size`). */
  databaseBytes(): Promise<number>
  /** SQLite's write-ahead log; PostgreSQL's WAL belongs to the whole server, so it has none here. */
  walBytes?(): Promise<number>
}

/**
 * Prometheus metrics with prom-client: request latency histograms by route group and status (their
 * `_count` is the request count), device polls, status writes and auth requests, fleet and storage
 * gauges read at scrape time, and the library's process metrics (RSS, event-loop lag, CPU).
 */
export function createMetrics(source: MetricsSource): Metrics {
  const { fleet } = source
  // Long as a whole: one closure over the state its methods share; each method is short.
  const registers = [new Registry()]
  const [registry] = registers as [Registry]
  collectDefaultMetrics({ register: registry })
  const requests = new Histogram({
    name: 'bender_http_request_duration_seconds',
    help: 'Time from request to response headers, by route group and status.',
    labelNames: ['group', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  })
  const polls = new Counter({ name: 'bender_device_polls_total', help: 'Device update checks.', registers })
  const statusWrites = new Counter({
    name: 'bender_device_status_writes_total',
    help: 'Deployment status reports from devices, by answer.',
    labelNames: ['status'],
    registers,
  })
  const authRequests = new Counter({
    name: 'bender_device_auth_requests_total',
    help: 'Device authentication requests: accepted (a token was issued) or refused.',
    labelNames: ['result'],
    registers,
  })
  const gauge = (name: string, help: string, read: (g: Gauge) => Promise<void>, labelNames: string[] = []) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        await read(this)
      },
    })
  gauge(
    'bender_devices',
    'Devices by device-auth status.',
    async (g) => {
      const { devicesByStatus } = await fleet.current()
      g.reset()
      for (const [status, n] of Object.entries(devicesByStatus)) g.set({ status }, n)
    },
    ['status'],
  )
  gauge('bender_active_deployments', 'Deployments not finished.', async (g) => {
    g.set((await fleet.current()).activeDeployments)
  })
  gauge(
    'bender_active_deployment_devices',
    'Devices of the active deployments: listed, and started (picked their deployment up).',
    async (g) => {
      const { listed, started } = (await fleet.current()).activeDeploymentDevices
      g.set({ state: 'listed' }, listed)
      g.set({ state: 'started' }, started)
    },
    ['state'],
  )
  gauge('bender_blob_store_bytes', 'Bytes of the stored artifacts.', async (g) => {
    g.set((await fleet.current()).artifactBytes)
  })
  gauge('bender_events_outbox_events', 'Events kept in the outbox (pruned by age and count).', async (g) => {
    g.set((await fleet.current()).outbox.events)
  })
  gauge('bender_events_last_seq', 'Sequence number of the newest event.', async (g) => {
    g.set((await fleet.current()).outbox.lastSeq)
  })
  gauge(
    'bender_events_subscriber_backlog',
    'Events each durable subscriber (iot-manager webhooks, deviceconfig) has not handled yet, as of its last saved position.',
    async (g) => {
      const { subscriberBacklog } = await fleet.current()
      g.reset()
      for (const [subscriber, n] of Object.entries(subscriberBacklog)) g.set({ subscriber }, n)
    },
    ['subscriber'],
  )
  gauge(
    'bender_database_bytes',
    'Size of the database (the SQLite file, or the PostgreSQL database).',
    async (g) => {
      g.set(await source.databaseBytes())
    },
  )
  const { walBytes } = source
  if (walBytes) {
    gauge('bender_database_wal_bytes', 'Size of the SQLite write-ahead log.', async (g) => {
      g.set(await walBytes())
    })
  }

  return {
    observe(method, path, status, seconds, group) {
      requests.observe({ group: group ?? routeGroup(path), status }, seconds)
      if (group || !path.startsWith('/api/devices/')) return
      if (method === 'PUT' && STATUS_WRITE.test(path)) statusWrites.inc({ status })
      else if (method === 'POST' && AUTH_REQUEST.test(path)) {
        authRequests.inc({ result: status === 200 ? 'accepted' : 'refused' })
      } else if (POLL.test(path)) polls.inc()
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
    stop() {
      fleet.stop()
      registry.clear()
    },
  }
}
