import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loginAs } from '../helpers/app.ts'
import { createMenderClient, singleFileArtifact as makeSingleFileArtifact } from '../helpers/mender.ts'
import { run, startTestServer, type TestServer, waitFor } from '../helpers/server.ts'

/**
 * The Debian mender client 3.4 in daemon mode against bender over plain HTTP: artifacts made by
 * mender-artifact, uploaded with mender-cli, deployed through the management API, downloaded
 * through the storage proxy and installed by the client's update modules.
 */

const DEVICE_TYPE = 'e2e-device'
const FACTORY = 'factory-1'
const STEP_MS = 90_000

let server: TestServer
let admin: string
let client: ReturnType<typeof createMenderClient>
let work: string
let deviceId: string

const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await response.text()
  let json: any
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

const cli = (...args: string[]) =>
  run(['mender-cli', '--server', server.url, ...args], { env: { HOME: work }, timeoutMs: 60_000 })

const singleFileArtifact = (
  name: string,
  dest: string,
  content: Uint8Array,
  stateScripts: Record<string, string> = {},
) => makeSingleFileArtifact(work, DEVICE_TYPE, name, dest, content, stateScripts)

async function upload(path: string): Promise<void> {
  const uploaded = await cli('artifacts', 'upload', '--no-progress', path)
  expect(uploaded.code).toBe(0)
}

async function deploy(name: string, artifactName: string): Promise<string> {
  const res = await api('POST', '/api/management/v1/deployments/deployments', {
    name,
    artifact_name: artifactName,
    devices: [deviceId],
  })
  expect(res.status).toBe(201)
  return res.headers.get('location')!.split('/').pop()!
}

const deployment = async (id: string) =>
  (await api('GET', `/api/management/v1/deployments/deployments/${id}`)).json

const finished = (id: string) =>
  waitFor(
    `deployment ${id} to finish`,
    async () => {
      const d = await deployment(id)
      return d.status === 'finished' ? d : undefined
    },
    STEP_MS,
  )

const deviceStatus = async (id: string): Promise<string | undefined> =>
  (await api('GET', `/api/management/v1/deployments/deployments/${id}/devices`)).json?.[0]?.status

const inventoryArtifactName = async (): Promise<unknown> => {
  const res = await api('GET', `/api/management/v1/inventory/devices/${deviceId}`)
  if (res.status !== 200) return undefined
  return (res.json.attributes as { name: string; scope: string; value: unknown }[]).find(
    (a) => a.scope === 'inventory' && a.name === 'artifact_name',
  )?.value
}

beforeAll(async () => {
  for (const tool of ['mender-artifact', 'mender-cli', 'unshare']) {
    if (!Bun.which(tool)) throw new Error(`${tool} is not installed`)
  }
  work = mkdtempSync(join(tmpdir(), 'bender-e2e-deployments-'))
  server = await startTestServer()
  const login = await loginAs(server)
  admin = login.token
  const cliLogin = await cli('login', '--username', 'admin@example.com', '--password', 'correct-horse-1')
  expect(cliLogin.code).toBe(0)
  client = createMenderClient(server.url, DEVICE_TYPE, { artifactName: FACTORY })
  client.startDaemon()
  const pending = await waitFor(
    'the device to ask for authorization',
    async () => {
      const devices = (await api('GET', '/api/management/v2/devauth/devices')).json as any[]
      return devices?.[0]
    },
    STEP_MS,
  )
  deviceId = pending.id
  const accepted = await api(
    'PUT',
    `/api/management/v2/devauth/devices/${deviceId}/auth/${pending.auth_sets[0].id}/status`,
    { status: 'accepted' },
  )
  expect(accepted.status).toBe(204)
  await waitFor(
    'the first inventory',
    async () => ((await inventoryArtifactName()) === FACTORY ? true : undefined),
    STEP_MS,
  )
}, 3 * STEP_MS)

afterAll(async () => {
  await client?.close()
  await server?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('the Debian mender client 3.4 in daemon mode', () => {
  const dest = () => join(client.dir, 'dest')
  const installed = () => new Uint8Array(readFileSync(join(dest(), 'app.conf')))
  const content = crypto.getRandomValues(new Uint8Array(64 * 1024))

  test(
    'installs a single-file artifact: the file lands, one success, inventory shows it',
    async () => {
      const artifact = singleFileArtifact('app-1', dest(), content)
      await upload(artifact)
      const id = await deploy('first', 'app-1')

      const done = await finished(id)
      expect(done.statistics.status).toMatchObject({ success: 1, failure: 0, pending: 0 })
      expect(done.device_count).toBe(1)
      expect(done.statistics.total_size).toBe(Bun.file(artifact).size)
      expect(installed()).toEqual(content)
      const devices = (await api('GET', `/api/management/v1/deployments/deployments/${id}/devices`)).json
      expect(devices[0]).toMatchObject({ id: deviceId, status: 'success', image: { name: 'app-1' } })
      await waitFor(
        'inventory to show app-1',
        async () => ((await inventoryArtifactName()) === 'app-1' ? true : undefined),
        STEP_MS,
      )
      // The v2 update check is answered: the client never had to fall back through a 404.
      expect(client.daemonLog()).not.toContain('returned HTTP 404')
    },
    2 * STEP_MS,
  )

  test(
    'the same artifact again: already-installed, nothing reinstalled',
    async () => {
      const id = await deploy('again', 'app-1')
      const done = await finished(id)
      expect(done.statistics.status).toMatchObject({ 'already-installed': 1, success: 0 })
      expect(installed()).toEqual(content)
    },
    STEP_MS,
  )

  test(
    'an artifact whose install fails: failure, the device rolls back, its log can be read',
    async () => {
      // The single-file module cannot make its destination under /proc: its install step fails.
      await upload(singleFileArtifact('broken-1', '/proc/bender-e2e/nowhere', new Uint8Array(16)))
      const id = await deploy('broken', 'broken-1')
      const done = await finished(id)
      expect(done.statistics.status).toMatchObject({ failure: 1, success: 0 })
      const log = await waitFor(
        'the deployment log',
        async () => {
          const res = await api(
            'GET',
            `/api/management/v1/deployments/deployments/${id}/devices/${deviceId}/log`,
          )
          return res.status === 200 ? res : undefined
        },
        STEP_MS,
      )
      expect(log.headers.get('content-type')).toStartWith('text/plain')
      const lines = log.text.trimEnd().split('\n')
      expect(lines.length).toBeGreaterThan(1)
      for (const line of lines) {
        expect(line).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \+0000 UTC \w+: /)
      }
      expect(log.text).toContain('/proc/bender-e2e')
      expect((await api('GET', `/api/management/v1/deployments/deployments/${id}/devices`)).json[0].log).toBe(
        true,
      )
      expect(installed()).toEqual(content)
    },
    2 * STEP_MS,
  )

  test(
    'aborted mid-way: refused at its next report, the device rolls back and moves on',
    async () => {
      const go = join(work, 'go')
      // Installed, then held (bounded) until the test says go: the abort lands while it is installing.
      const held = crypto.getRandomValues(new Uint8Array(2048))
      await upload(
        singleFileArtifact('slow-1', dest(), held, {
          ArtifactInstall_Leave_00: `for i in $(seq 1 600); do [ -e ${go} ] && break; sleep 0.1; done`,
        }),
      )
      const id = await deploy('slow', 'slow-1')
      await waitFor(
        'the device to install',
        async () => ((await deviceStatus(id)) === 'installing' ? true : undefined),
        STEP_MS,
      )
      const logBefore = client.daemonLog().length
      const abort = await api('PUT', `/api/management/v1/deployments/deployments/${id}/status`, {
        status: 'aborted',
      })
      expect(abort.status).toBe(204)
      writeFileSync(go, '')
      await waitFor(
        'the device to hear of the abort',
        () =>
          client.daemonLog().slice(logBefore).includes('deployment aborted at the backend')
            ? true
            : undefined,
        STEP_MS,
      )
      await waitFor('the rollback', () => (Bun.deepEquals(installed(), content) ? true : undefined), STEP_MS)
      const done = await deployment(id)
      expect(done.status).toBe('finished')
      expect(done.statistics.status).toMatchObject({ aborted: 1, success: 0, installing: 0 })

      // The device takes the next deployment, still running app-1 when it asks: it never committed slow-1.
      const next = crypto.getRandomValues(new Uint8Array(1024))
      await upload(singleFileArtifact('app-2', dest(), next))
      const nextId = await deploy('after the abort', 'app-2')
      expect((await finished(nextId)).statistics.status).toMatchObject({ success: 1 })
      const [asked] = await server.sql(
        'SELECT request FROM deployments_device_deployments WHERE deployment_id = ?',
        nextId,
      )
      expect(JSON.parse(String(asked?.request))[0]).toBe('app-1')
      expect(installed()).toEqual(next)
      expect(await deviceStatus(id)).toBe('aborted')
      await waitFor(
        'inventory to show app-2',
        async () => ((await inventoryArtifactName()) === 'app-2' ? true : undefined),
        STEP_MS,
      )
    },
    4 * STEP_MS,
  )
})
