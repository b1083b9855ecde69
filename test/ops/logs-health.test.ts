import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { startFauxqs } from 'fauxqs'
import { loadConfig } from '../../src/config.ts'
import { createLogger, withLogFields } from '../../src/log.ts'
import { createTestApp, loginAs } from '../helpers/app.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const ARTIFACTS = '/api/management/v1/deployments/artifacts'
const servers: TestServer[] = []
afterAll(async () => {
  for (const s of servers) await s.stop()
})

test('BENDER_LOG_FORMAT=json writes one JSON object a line; logfmt stays the default', () => {
  expect(loadConfig({}).logFormat).toBe('logfmt')
  expect(() => loadConfig({ BENDER_LOG_FORMAT: 'xml' })).toThrow('BENDER_LOG_FORMAT must be one of')
  const lines: string[] = []
  const log = createLogger(
    'info',
    (line) => lines.push(line),
    loadConfig({ BENDER_LOG_FORMAT: 'JSON' }).logFormat,
  )
  log.with({ service: 'x' }).warn('two\nlines', { n: 1, err: new Error('boom'), skipped: undefined })
  expect(lines).toHaveLength(1)
  const record = JSON.parse(lines[0]!)
  expect(record).toMatchObject({ level: 'warn', msg: 'two\nlines', service: 'x', n: 1 })
  expect(record.err).toContain('Error: boom')
  expect('skipped' in record).toBe(false)
  expect(Date.parse(record.time)).toBeGreaterThan(0)
})

test('lines written inside withLogFields carry its fields, across awaits, and only there', async () => {
  const lines: string[] = []
  const log = createLogger('info', (line) => lines.push(line))
  await withLogFields({ request_id: 'req-1' }, async () => {
    await Bun.sleep(1)
    log.info('inside')
  })
  log.info('outside')
  expect(lines[0]).toContain('request_id=req-1')
  expect(lines[1]).not.toContain('request_id')
})

test("a service's log line about a request carries the request's id, background work included", async () => {
  const s = await startTestServer({ BENDER_LOG_LEVEL: 'info' })
  servers.push(s)
  const { token } = await loginAs(s)
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const link = (await (
    await fetch(`${s.url}${ARTIFACTS}/directupload`, { method: 'POST', headers })
  ).json()) as {
    id: string
    uri: string
  }
  expect((await fetch(link.uri, { method: 'PUT', body: buildArtifact({ name: 'traced-1' }) })).status).toBe(
    200,
  )
  const complete = await fetch(`${s.url}${ARTIFACTS}/directupload/${link.id}/complete`, {
    method: 'POST',
    headers: { ...headers, 'x-men-requestid': 'complete-req-42' },
  })
  expect(complete.status).toBe(202)
  expect(complete.headers.get('x-men-requestid')).toBe('complete-req-42')
  await s.services.artifacts.idle()
  const line = s.logLines.find((l) => l.includes('direct upload recorded'))
  expect(line).toContain('request_id=complete-req-42')
  // A request without an id gets one, and the answer and the log agree on it.
  const minted = await fetch(`${s.url}${ARTIFACTS}/${crypto.randomUUID()}`, { headers })
  expect(minted.headers.get('x-men-requestid')).toMatch(/^[0-9a-f-]{36}$/)
})

test('readiness fails with 503 when the disk store is unusable; liveness does not', async () => {
  const t = await createTestApp()
  try {
    rmSync(t.deps.config.storageDir, { recursive: true })
    const health = await t.call('GET', '/api/internal/v1/deployments/health')
    expect(health.status).toBe(503)
    expect(health.json.error).toBe('service unavailable: artifact store')
    expect((await t.call('GET', '/api/internal/v1/deployments/alive')).status).toBe(204)
  } finally {
    await t.close()
  }
})

test('readiness fails with 503 when S3 does not answer', async () => {
  const s3 = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
  const t = await createTestApp({
    BENDER_STORAGE: 's3',
    BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    BENDER_S3_BUCKET: `bender-ready-${process.pid}`,
    BENDER_S3_ACCESS_KEY: 'bender',
    BENDER_S3_SECRET_KEY: 'bender-secret',
  })
  try {
    expect((await t.call('GET', '/api/internal/v1/useradm/health')).status).toBe(204)
    await s3.stop()
    const health = await t.call('GET', '/api/internal/v1/useradm/health')
    expect(health.status).toBe(503)
    expect(t.logLines.join('\n')).not.toContain('level=error')
  } finally {
    await t.close()
  }
})
