import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createRateLimiter } from '../../src/limits/buckets.ts'
import { loginAs } from '../helpers/app.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import { acceptedDevice } from '../helpers/device.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const ARTIFACTS = '/api/management/v1/deployments/artifacts'
const NEXT = '/api/devices/v1/deployments/device/deployments/next?device_type=dev-a&artifact_name=a-1'

test('a bucket allows its burst, then one request per 60/N seconds; a full bucket is forgotten', () => {
  const limiter = createRateLimiter(3)
  const t0 = 1_000_000
  expect([limiter.take('a', t0), limiter.take('a', t0), limiter.take('a', t0)]).toEqual([0, 0, 0])
  expect(limiter.take('a', t0)).toBeCloseTo(20, 5)
  expect(limiter.take('b', t0)).toBe(0)
  expect(limiter.take('a', t0 + 20_000)).toBe(0)
  expect(limiter.take('a', t0 + 20_000)).toBeGreaterThan(0)
  // A minute on, both buckets are full again: the sweep drops them.
  limiter.take('c', t0 + 200_000)
  expect(limiter.size()).toBe(1)
})

test('a bucket spent just before the minute turns keeps what it spent; one a minute idle is dropped whole', () => {
  const limiter = createRateLimiter(3)
  const t0 = 1_000_000
  limiter.take('x', t0)
  for (let i = 0; i < 3; i++) expect(limiter.take('a', t0 + 50_000)).toBe(0)
  // The minute turns at this request: 'a' comes from the previous minute with 10 s earned (half a request).
  expect(limiter.take('a', t0 + 60_000)).toBeCloseTo(10, 5)
  expect(limiter.size()).toBe(2)
  // A minute on, 'x' (idle since t0) is gone; 'a' was touched in the last minute and stays.
  limiter.take('a', t0 + 120_000)
  expect(limiter.size()).toBe(1)
})

describe('request limits on the API', () => {
  let s: TestServer
  let deviceToken: string
  beforeAll(async () => {
    s = await startTestServer({ BENDER_DEVICE_RATE_LIMIT: '3', BENDER_CLIENT_RATE_LIMIT: '8' })
    const { token } = await loginAs(s)
    deviceToken = (await acceptedDevice(s, token)).token
  })
  afterAll(() => s.stop())

  test('a device over its limit gets 429 with Retry-After, before its token is even checked', async () => {
    const poll = (token: string) =>
      fetch(`${s.url}${NEXT}`, { headers: { authorization: `Bearer ${token}` } })
    for (let i = 0; i < 3; i++) expect((await poll(deviceToken)).status).toBe(204)
    const refused = await poll(deviceToken)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const body = (await refused.json()) as { error: string; request_id: string }
    expect(body.error).toBe('too many requests from this device, try again later')
    expect(body.request_id).toBe(refused.headers.get('x-men-requestid')!)
    // A forged token has a bucket of its own: refused by the limit without being verified.
    const forged = 'x'.repeat(40)
    for (let i = 0; i < 3; i++) expect((await poll(forged)).status).toBe(401)
    expect((await poll(forged)).status).toBe(429)
  })

  test('a client over its limit gets 429 before its body is parsed; device requests do not count', async () => {
    const post = () =>
      fetch(`${s.url}/api/management/v1/useradm/settings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      })
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) statuses.push((await post()).status)
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0)
    expect(statuses.every((status) => status === 401 || status === 400 || status === 429)).toBe(true)
    expect(statuses.at(-1)).toBe(429)
  })
})

describe('storage proxy download caps', () => {
  let s: TestServer
  let uri: string
  let bytes: Uint8Array
  beforeAll(async () => {
    s = await startTestServer({ BENDER_STORAGE_MAX_DOWNLOADS: '1', BENDER_STORAGE_DOWNLOAD_RATE: '262144' })
    const { token } = await loginAs(s)
    bytes = buildArtifact({
      name: 'capped-1',
      payloads: [
        { type: 'single-file', files: { 'f.bin': crypto.getRandomValues(new Uint8Array(1 << 20)) } },
      ],
    })
    const form = new FormData()
    form.append('artifact', new Blob([bytes]), 'capped.mender')
    const id = (await s.call('POST', ARTIFACTS, { token, raw: form })).headers
      .get('location')!
      .split('/')
      .at(-1)
    uri = (await s.call('GET', `${ARTIFACTS}/${id}/download`, { token })).json.uri
  })
  afterAll(() => s.stop())

  test('a download beyond the cap is a 503 with Retry-After; paced downloads keep their length and bytes', async () => {
    const first = await fetch(uri)
    expect(first.status).toBe(200)
    expect(first.headers.get('content-length')).toBe(String(bytes.byteLength))
    const reader = first.body!.getReader()
    const chunks: Uint8Array[] = [(await reader.read()).value!]
    const second = await fetch(uri)
    expect(second.status).toBe(503)
    expect(second.headers.get('retry-after')).toBe('30')
    // HEAD asks for a size only: not a download.
    expect((await fetch(uri, { method: 'HEAD' })).status).toBe(200)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
    }
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true)
    // The slot is free again, and a resumed download (Range) is served like any other.
    const resumed = await fetch(uri, { headers: { range: `bytes=${bytes.byteLength - 1000}-` } })
    expect(resumed.status).toBe(206)
    expect(resumed.headers.get('content-length')).toBe('1000')
    expect(Buffer.from(await resumed.arrayBuffer()).equals(bytes.subarray(bytes.byteLength - 1000))).toBe(
      true,
    )
  })
})
