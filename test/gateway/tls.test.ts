import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { startTestServer, type TestServer } from '../helpers/server.ts'

setDefaultTimeout(60_000)

let dir: string
let server: TestServer
let apiPort: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-tls-'))
  const made = Bun.spawnSync(
    [
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
    ].concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
    { timeout: 30_000 },
  )
  if (made.exitCode !== 0) throw new Error(`openssl req: ${made.stderr.toString()}`)
  server = await startTestServer({
    BENDER_TLS_CERT: join(dir, 'cert.pem'),
    BENDER_TLS_KEY: join(dir, 'key.pem'),
  })
  apiPort = Number(new URL(server.url).port)
})
afterAll(async () => {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** Whether a TLS 1.2 handshake offering only `ciphers` succeeds against `port`. */
function handshake(port: number, ciphers: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ciphers,
      maxVersion: 'TLSv1.2',
      rejectUnauthorized: false,
    })
    socket.once('secureConnect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

test('TLS 1.2 offers ECDHE with AEAD only: static RSA and CBC suites are refused', async () => {
  for (const port of [apiPort, server.deps.config.storagePort]) {
    expect(await handshake(port, 'ECDHE-RSA-AES128-GCM-SHA256')).toBe(true)
    expect(await handshake(port, 'AES128-GCM-SHA256:AES256-GCM-SHA384')).toBe(false)
    expect(await handshake(port, 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA')).toBe(false)
  }
})

test('with TLS, API responses carry HSTS, nosniff and no-store', async () => {
  const res = await fetch(`https://127.0.0.1:${apiPort}/api/internal/v1/useradm/alive`, {
    tls: { rejectUnauthorized: false },
  })
  expect(res.status).toBe(204)
  expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000')
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  expect(res.headers.get('cache-control')).toBe('no-store')
})
