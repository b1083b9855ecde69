import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import { AUTH_REQUESTS, TestDevice } from '../helpers/device.ts'
import { ROOT, type RunningServer, run, startBender } from '../helpers/server.ts'

// A backup taken from a second process while devices write and artifacts arrive, restored and served.
const work = mkdtempSync(join(tmpdir(), 'bender-online-backup-'))
const servers: RunningServer[] = []
afterAll(async () => {
  for (const server of servers) await server.stop()
  rmSync(work, { recursive: true, force: true })
})

const ADMIN = { BENDER_ADMIN_EMAIL: 'ops@example.com', BENDER_ADMIN_PASSWORD: 'ops-password-1' }
const MANAGEMENT = '/api/management'
const ATTRIBUTES = '/api/devices/v1/inventory/device/attributes'
const NEXT = '/api/devices/v1/deployments/device/deployments/next?device_type=dev-a&artifact_name=a-1'

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}${MANAGEMENT}/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${ADMIN.BENDER_ADMIN_EMAIL}:${ADMIN.BENDER_ADMIN_PASSWORD}`)}` },
  })
  expect(res.status).toBe(200)
  return res.text()
}

async function authRequest(url: string, device: TestDevice): Promise<Response> {
  const body = device.authRequestBody()
  return fetch(`${url}${AUTH_REQUESTS}`, { method: 'POST', headers: device.authHeaders(body), body })
}

/** Registers the devices, accepts every pending one, and returns each device's token and id. */
async function acceptedDevices(url: string, token: string, count: number) {
  const devices = Array.from({ length: count }, () => new TestDevice())
  for (const device of devices) expect((await authRequest(url, device)).status).toBe(401)
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const pending = (await (
    await fetch(`${url}${MANAGEMENT}/v2/devauth/devices?status=pending&per_page=100`, { headers: auth })
  ).json()) as { id: string; auth_sets: { id: string }[] }[]
  for (const device of pending) {
    const path = `${MANAGEMENT}/v2/devauth/devices/${device.id}/auth/${device.auth_sets[0]!.id}/status`
    const res = await fetch(`${url}${path}`, { method: 'PUT', headers: auth, body: '{"status":"accepted"}' })
    expect(res.status).toBe(204)
  }
  const tokens: { token: string; id: string }[] = []
  for (const device of devices) {
    const res = await authRequest(url, device)
    expect(res.status).toBe(200)
    const jwt = await res.text()
    tokens.push({ token: jwt, id: JSON.parse(atob(jwt.split('.')[1]!)).sub })
  }
  return tokens
}

async function uploadArtifact(url: string, token: string, bytes: Uint8Array): Promise<string> {
  const form = new FormData()
  form.append('artifact', new Blob([bytes]), 'a.mender')
  const res = await fetch(`${url}${MANAGEMENT}/v1/deployments/artifacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  })
  expect(res.status).toBe(201)
  return res.headers.get('location')!.split('/').at(-1)!
}

const artifactBytes = (name: string) =>
  buildArtifact({
    name,
    payloads: [
      { type: 'single-file', files: { 'blob.bin': crypto.getRandomValues(new Uint8Array(48 * 1024)) } },
    ],
  })

const bender = (args: string[], env: Record<string, string>) =>
  run([process.execPath, 'run', join(ROOT, 'src/main.ts'), ...args], { env, timeoutMs: 60_000 })

test('a backup taken under device traffic restores every acknowledged write, artifact and token', async () => {
  // The devices write as fast as they can, far beyond any real client: no per-device limit here.
  const live = await startBender({ env: { ...ADMIN, BENDER_DEVICE_RATE_LIMIT: '0' } })
  servers.push(live)
  const token = await login(live.url)
  const devices = await acceptedDevices(live.url, token, 6)
  const uploaded = new Map<string, { bytes: Uint8Array; ackedAt: number }>()
  for (let i = 0; i < 3; i++) {
    const bytes = artifactBytes(`before-${i}`)
    uploaded.set(await uploadArtifact(live.url, token, bytes), { bytes, ackedAt: performance.now() })
  }

  // Each device writes an increasing counter; each acknowledgement is stamped with its time.
  let running = true
  const acks = devices.map(() => [] as { value: number; at: number }[])
  const writers = devices.map(async (device, index) => {
    for (let value = 1; running; value++) {
      const res = await fetch(`${live.url}${ATTRIBUTES}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${device.token}`, 'content-type': 'application/json' },
        body: JSON.stringify([{ name: 'counter', value }]),
      })
      expect(res.status).toBe(200)
      acks[index]!.push({ value, at: performance.now() })
    }
  })
  const uploader = (async () => {
    for (let i = 0; running; i++) {
      const bytes = artifactBytes(`during-${i}`)
      uploaded.set(await uploadArtifact(live.url, token, bytes), { bytes, ackedAt: performance.now() })
    }
  })()
  await Bun.sleep(300)
  const backupDir = join(work, 'backup')
  const began = performance.now()
  const made = await bender(['backup', '--to', backupDir], { BENDER_DATA_DIR: live.dataDir })
  const ended = performance.now()
  await Bun.sleep(200)
  running = false
  await Promise.all([...writers, uploader])
  expect(made.stderr).toContain('backup written')
  expect(made.code).toBe(0)
  // The devices kept writing while the backup ran.
  expect(acks.flat().some((ack) => ack.at > began && ack.at < ended)).toBe(true)

  const dataDir = join(work, 'restored')
  const restoredRun = await bender(['restore', '--from', backupDir, '--data-dir', dataDir], {})
  expect(restoredRun.code).toBe(0)
  const restored = await startBender({ dataDir })
  servers.push(restored)
  const restoredToken = await login(restored.url)
  const auth = { authorization: `Bearer ${restoredToken}` }

  for (const [index, device] of devices.entries()) {
    const ackedBefore = acks[index]!.filter((ack) => ack.at < began).at(-1)?.value ?? 0
    expect(ackedBefore).toBeGreaterThan(0)
    const res = await fetch(`${restored.url}${MANAGEMENT}/v1/inventory/devices/${device.id}`, {
      headers: auth,
    })
    const attributes = ((await res.json()) as { attributes: unknown }).attributes as {
      name: string
      value: number
    }[]
    expect(attributes.find((a) => a.name === 'counter')!.value).toBeGreaterThanOrEqual(ackedBefore)
    // The device's token from before the backup works on the restored server.
    const poll = await fetch(`${restored.url}${NEXT}`, {
      headers: { authorization: `Bearer ${device.token}` },
    })
    expect(poll.status).toBe(204)
  }

  const listed = (await (
    await fetch(`${restored.url}${MANAGEMENT}/v1/deployments/artifacts`, { headers: auth })
  ).json()) as { id: string }[]
  const ids = new Set(listed.map((a) => a.id))
  for (const [id, { ackedAt }] of uploaded) if (ackedAt < began) expect(ids.has(id)).toBe(true)
  for (const id of ids) {
    const link = await fetch(`${restored.url}${MANAGEMENT}/v1/deployments/artifacts/${id}/download`, {
      headers: auth,
    })
    expect(link.status).toBe(200)
    const file = await fetch(((await link.json()) as { uri: string }).uri)
    expect(file.status).toBe(200)
    expect(Buffer.from(await file.arrayBuffer()).equals(uploaded.get(id)!.bytes)).toBe(true)
  }
}, 120_000)
