import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { httpCaller } from '../helpers/app.ts'
import { type Instances, startInstances } from '../helpers/instances.ts'
import { createMenderClient, singleFileArtifact } from '../helpers/mender.ts'
import { run, waitFor } from '../helpers/server.ts'

/**
 * The Debian mender client and mender-cli against two bender instances behind a round-robin
 * balancer: every request of theirs goes to the other instance than the one before.
 */

const DEVICE_TYPE = 'cluster-device'
const STEP_MS = 90_000
const EMAIL = 'operator@example.com'
const PASSWORD = 'operator-password'

let cluster: Instances
let work: string
let client: ReturnType<typeof createMenderClient>
let admin: string

const cli = (...args: string[]) =>
  run(['mender-cli', '--server', cluster.url, ...args], { env: { HOME: work }, timeoutMs: 60_000 })

beforeAll(async () => {
  for (const tool of ['mender-artifact', 'mender-cli', 'unshare']) {
    if (!Bun.which(tool)) throw new Error(`${tool} is not installed`)
  }
  work = mkdtempSync(join(tmpdir(), 'bender-cluster-e2e-'))
  cluster = await startInstances(2, { BENDER_ADMIN_EMAIL: EMAIL, BENDER_ADMIN_PASSWORD: PASSWORD })
  expect((await cli('login', '--username', EMAIL, '--password', PASSWORD)).code).toBe(0)
  admin = (await Bun.file(join(work, '.cache/mender/authtoken')).text()).trim()
}, STEP_MS)

afterAll(async () => {
  await client?.close()
  await cluster?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

test(
  'a real device joins, is accepted, and installs an update uploaded with mender-cli, all through the balancer',
  async () => {
    const api = httpCaller(cluster.url)
    client = createMenderClient(cluster.url, DEVICE_TYPE, { artifactName: 'factory-1' })
    client.startDaemon()
    const pending = await waitFor(
      'the device to ask for authorization',
      async () => (await api.call('GET', '/api/management/v2/devauth/devices', { token: admin })).json?.[0],
      STEP_MS,
    )
    const accepted = await api.call(
      'PUT',
      `/api/management/v2/devauth/devices/${pending.id}/auth/${pending.auth_sets[0].id}/status`,
      { token: admin, body: { status: 'accepted' } },
    )
    expect(accepted.status).toBe(204)

    const dest = join(client.dir, 'dest')
    const content = crypto.getRandomValues(new Uint8Array(256 * 1024))
    const artifact = singleFileArtifact(work, DEVICE_TYPE, 'cluster-app-1', dest, content)
    expect((await cli('artifacts', 'upload', '--no-progress', artifact)).code).toBe(0)
    const created = await api.call('POST', '/api/management/v1/deployments/deployments', {
      token: admin,
      body: { name: 'through the balancer', artifact_name: 'cluster-app-1', devices: [pending.id] },
    })
    expect(created.status).toBe(201)
    const id = created.headers.get('location')!.split('/').pop()!
    const done = await waitFor(
      'the deployment to finish',
      async () => {
        const d = (
          await api.call('GET', `/api/management/v1/deployments/deployments/${id}`, { token: admin })
        ).json
        return d?.status === 'finished' ? d : undefined
      },
      STEP_MS,
    )
    expect(done.status).toBe('finished')
    const stats = await api.call('GET', `/api/management/v1/deployments/deployments/${id}/statistics`, {
      token: admin,
    })
    expect(stats.json.success).toBe(1)
    expect(new Uint8Array(readFileSync(join(dest, 'app.conf')))).toEqual(content)
    // Both instances took their share of the device's and the tools' requests.
    const [first, second] = cluster.api.counts()
    expect(first).toBeGreaterThan(5)
    expect(second).toBeGreaterThan(5)
    expect(cluster.storage.counts().reduce((x, y) => x + y, 0)).toBeGreaterThan(0)
  },
  3 * STEP_MS,
)
