import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { routeGroup } from '../../src/metrics/metrics.ts'
import { loginAs } from '../helpers/app.ts'
import { AUTH_REQUESTS, TestDevice } from '../helpers/device.ts'
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts'

const TOKEN = 'scrape-token-0123456789'
const NEXT = '/api/devices/v1/deployments/device/deployments/next?device_type=dev-a&artifact_name=a-1'

/** One sample's value from an exposition, by its full name with labels as printed. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('metrics', () => {
  let s: TestServer
  let metricsPort: number
  beforeAll(async () => {
    metricsPort = await freePort()
    s = await startTestServer({ BENDER_METRICS_PORT: String(metricsPort), BENDER_METRICS_TOKEN: TOKEN })
  })
  afterAll(() => s.stop())

  // Over the real listener, where the auth-request counters are kept (not the shared in-process seeding).
  const authRequest = (device: TestDevice) => {
    const body = device.authRequestBody()
    return fetch(`${s.url}${AUTH_REQUESTS}`, { method: 'POST', headers: device.authHeaders(body), body })
  }

  test('count requests, polls, status writes and auth requests, and report the fleet', async () => {
    const { token } = await loginAs(s)
    const device = new TestDevice()
    expect((await authRequest(device)).status).toBe(401)
    const listed = await s.call('GET', '/api/management/v2/devauth/devices', { token })
    const { id, auth_sets } = listed.json[0]
    const accept = await s.call(
      'PUT',
      `/api/management/v2/devauth/devices/${id}/auth/${auth_sets[0].id}/status`,
      {
        token,
        body: { status: 'accepted' },
      },
    )
    expect(accept.status).toBe(204)
    const accepted = await authRequest(device)
    expect(accepted.status).toBe(200)
    const deviceToken = await accepted.text()
    const headers = { authorization: `Bearer ${deviceToken}` }
    for (let i = 0; i < 3; i++) expect((await fetch(`${s.url}${NEXT}`, { headers })).status).toBe(204)
    const status = await fetch(
      `${s.url}/api/devices/v1/deployments/device/deployments/${crypto.randomUUID()}/status`,
      {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/json' },
        body: '{"status":"downloading"}',
      },
    )
    expect(status.status).toBe(404)

    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(sample(text, 'bender_device_polls_total')).toBe(3)
    expect(sample(text, 'bender_device_auth_requests_total{result="refused"}')).toBe(1)
    expect(sample(text, 'bender_device_auth_requests_total{result="accepted"}')).toBe(1)
    expect(sample(text, 'bender_device_status_writes_total{status="404"}')).toBe(1)
    expect(
      sample(text, 'bender_http_request_duration_seconds_count{group="devices/deployments",status="204"}'),
    ).toBe(3)
    expect(sample(text, 'bender_devices{status="accepted"}')).toBe(1)
    expect(sample(text, 'bender_active_deployments')).toBe(0)
    // Accepting the device wrote events to the outbox.
    expect(sample(text, 'bender_events_outbox_events')).toBeGreaterThan(0)
    expect(sample(text, 'bender_events_last_seq')).toBeGreaterThan(0)
    // The in-process durable subscribers each report how far behind the newest event they are.
    for (const subscriber of ['iot-manager', 'deviceconfig'])
      expect(
        sample(text, `bender_events_subscriber_backlog{subscriber="${subscriber}"}`),
      ).toBeGreaterThanOrEqual(0)
    expect(sample(text, 'bender_database_bytes')).toBeGreaterThan(0)
    // A write-ahead log of its own is SQLite's; PostgreSQL's belongs to the whole server.
    for (const name of [
      ...(s.engine === 'sqlite' ? ['bender_database_wal_bytes'] : []),
      'bender_blob_store_bytes',
      'process_resident_memory_bytes',
    ]) {
      expect(sample(text, name)).toBeGreaterThanOrEqual(0)
    }
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds')
  })

  test('the API port answers /metrics only to the configured token', async () => {
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401)
    expect((await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const ok = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('bender_http_request_duration_seconds_bucket')
  })

  test('the metrics port serves nothing else', async () => {
    expect((await fetch(`http://127.0.0.1:${metricsPort}/api/internal/v1/useradm/alive`)).status).toBe(404)
  })
})

test('without a metrics port or token, /metrics is not served at all', async () => {
  const s = await startTestServer()
  try {
    expect((await fetch(`${s.url}/metrics`)).status).toBe(404)
  } finally {
    await s.stop()
  }
})

test('route groups come from a fixed list, so no client can mint label values', () => {
  expect(routeGroup('/api/devices/v1/deployments/device/deployments/next')).toBe('devices/deployments')
  expect(routeGroup('/api/management/v2/inventory/filters/search')).toBe('management/inventory')
  expect(routeGroup(`/api/management/v1/${crypto.randomUUID()}/x`)).toBe('management/other')
  expect(routeGroup(`/api/${crypto.randomUUID()}/v1/useradm`)).toBe('other')
  expect(routeGroup('/')).toBe('other')
})
