import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { acceptedDevice, deploy, getDeployment, MGMT, poll, report } from '../deployments/rollout.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import { authenticate } from '../helpers/device.ts'
import { readEvents } from '../helpers/events.ts'
import { type Instances, startInstances } from '../helpers/instances.ts'
import { waitFor } from '../helpers/server.ts'

// Two bender processes on one PostgreSQL database and one S3 bucket, behind a round-robin balancer:
// what one instance commits, the other acts on at its very next request.

const EMAIL = 'admin@example.com'
const PASSWORD = 'correct-horse-1'
let cluster: Instances
let a: Instances['nodes'][number]
let b: Instances['nodes'][number]
let admin: string

async function login(node: { call: Instances['nodes'][number]['call'] }, password = PASSWORD) {
  return node.call('POST', '/api/management/v1/useradm/auth/login', {
    headers: { authorization: `Basic ${btoa(`${EMAIL}:${password}`)}` },
  })
}

/** Uploads a one-file artifact for `dev-a` through `node`. */
async function uploadArtifact(node: typeof a, name: string) {
  const bytes = buildArtifact({ name, deviceTypes: ['dev-a'] })
  const form = new FormData()
  form.set('size', String(bytes.length))
  form.set('artifact', new Blob([bytes]), `${name}.mender`)
  const res = await fetch(`${node.url}${MGMT}/artifacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}` },
    body: form,
  })
  expect(res.status).toBe(201)
}

beforeAll(async () => {
  cluster = await startInstances(2, { BENDER_ADMIN_EMAIL: EMAIL, BENDER_ADMIN_PASSWORD: PASSWORD })
  ;[a, b] = cluster.nodes as [typeof a, typeof b]
  const res = await login(a)
  expect(res.status).toBe(200)
  admin = res.text
}, 120_000)
afterAll(() => cluster.stop())

describe('two instances, one database', () => {
  test('a token issued by A is accepted by B; a deployment made through A is served to a device polling B', async () => {
    const device = await acceptedDevice(a, admin)
    await uploadArtifact(a, 'cluster-app-1')
    const id = await deploy(a, admin, { artifact_name: 'cluster-app-1', devices: [device.id] })
    const next = await poll(b, device.token, { artifact_name: 'factory', device_type: 'dev-a' })
    expect(next.status).toBe(200)
    expect(next.json.id).toBe(id)
    // The link names the balancer's storage address and works through either instance.
    expect(next.json.artifact.source.uri.startsWith(cluster.storageUrl)).toBe(true)
    const download = await fetch(next.json.artifact.source.uri)
    expect(download.status).toBe(200)
    expect((await download.arrayBuffer()).byteLength).toBeGreaterThan(0)
    expect((await report(b, device.token, id, 'installing')).status).toBe(204)
    expect((await report(a, device.token, id, 'success')).status).toBe(204)
    const done = await getDeployment(b, admin, id)
    expect(done.status).toBe('finished')
  })

  test('a device decommissioned on A is refused by B at its very next request', async () => {
    const device = await acceptedDevice(a, admin)
    // B has seen (and cached) the token before the decommission.
    expect((await poll(b, device.token)).status).toBe(204)
    expect(
      (await a.call('DELETE', `/api/management/v2/devauth/devices/${device.id}`, { token: admin })).status,
    ).toBe(204)
    expect((await poll(b, device.token)).status).toBe(401)
  })

  test('a device token rejected on A is refused by B at its very next request', async () => {
    const device = await acceptedDevice(a, admin)
    expect((await poll(b, device.token)).status).toBe(204)
    const rejected = await a.call(
      'PUT',
      `/api/management/v2/devauth/devices/${device.id}/auth/${device.authSetId}/status`,
      { token: admin, body: { status: 'rejected' } },
    )
    expect(rejected.status).toBe(204)
    expect((await poll(b, device.token)).status).toBe(401)
    expect((await authenticate(b, device.device)).status).toBe(401)
  })

  test('a user logged out on A is refused by B at the very next request', async () => {
    const token = (await login(a)).text
    expect((await b.call('GET', '/api/management/v1/useradm/users/me', { token })).status).toBe(200)
    expect((await a.call('POST', '/api/management/v1/useradm/auth/logout', { token })).status).toBe(202)
    expect((await b.call('GET', '/api/management/v1/useradm/users/me', { token })).status).toBe(401)
  })

  test("the console's event stream on B shows a device that asked to join through A", async () => {
    const stream = await fetch(`${b.url}/api/management/v1/events/stream`, {
      headers: { authorization: `Bearer ${admin}` },
    })
    expect(stream.status).toBe(200)
    const reading = readEvents(stream, (events) => events.some((e) => e.event === 'device-status-changed'))
    const device = await acceptedDevice(a, admin)
    const events = await reading
    expect(events.find((e) => e.event === 'device-status-changed')?.data.subject).toBe(device.id)
  })
})

describe('an instance killed in the middle of a rollout', () => {
  test('the other one finishes it and loses nothing that was acknowledged', async () => {
    const devices = await Promise.all(Array.from({ length: 6 }, () => acceptedDevice(a, admin)))
    await uploadArtifact(a, 'cluster-app-2')
    const id = await deploy(a, admin, { artifact_name: 'cluster-app-2', devices: devices.map((d) => d.id) })
    // Half the fleet finishes through A, acknowledged; then A dies without a chance to flush anything.
    for (const device of devices.slice(0, 3)) {
      expect((await poll(a, device.token)).json.id).toBe(id)
      expect((await report(a, device.token, id, 'success')).status).toBe(204)
    }
    a.proc.kill('SIGKILL')
    await a.proc.exited
    for (const device of devices.slice(3)) {
      expect((await poll(b, device.token)).json.id).toBe(id)
      expect((await report(b, device.token, id, 'success')).status).toBe(204)
    }
    const done = await waitFor('the deployment to finish', async () => {
      const d = await getDeployment(b, admin, id)
      return d.status === 'finished' ? d : undefined
    })
    const stats = (await b.call('GET', `${MGMT}/deployments/${id}/statistics`, { token: admin })).json
    expect(stats.success).toBe(6)
    expect(done.device_count).toBe(6)
    // A comes back over its data dir and serves the same truth.
    await cluster.restart(0)
    a = cluster.nodes[0]!
    expect((await getDeployment(a, admin, id)).status).toBe('finished')
  }, 120_000)
})
