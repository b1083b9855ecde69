import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import {
  acceptedDevice,
  addArtifact,
  deploy,
  getDeployment,
  MGMT,
  NEXT,
  NEXT_V2,
  poll,
  report,
  uniqueName,
} from './rollout.ts'

setDefaultTimeout(30_000)

let t: TestApp
let admin: string
beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const finish = async (token: string, deploymentId: string, status = 'success') => {
  for (const step of ['downloading', 'installing', status]) {
    expect((await report(t, token, deploymentId, step)).status).toBe(204)
  }
}

describe('nothing to do', () => {
  test('204 with no body when no deployment lists the device, for every variant of the check', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('other')
    await addArtifact(t, name, ['dev-a'])
    const other = await acceptedDevice(t, admin)
    await deploy(t, admin, { artifact_name: name, devices: [other.id] })
    const post = await poll(t, d.token)
    expect(post.status).toBe(204)
    expect(post.text).toBe('')
    const get = await t.call('GET', `${NEXT}?artifact_name=factory&device_type=dev-a`, { token: d.token })
    expect(get.status).toBe(204)
    const v2 = await t.call('POST', NEXT_V2, {
      token: d.token,
      body: { device_provides: { artifact_name: 'factory', device_type: 'dev-a' }, update_control_map: true },
    })
    expect(v2.status).toBe(204)
  })

  test('polls see deployments made and finished between them (the idle answer is kept in memory)', async () => {
    const fresh = await createTestApp()
    try {
      const token = (await loginAs(fresh)).token
      const d = await acceptedDevice(fresh, token)
      const name = uniqueName('between')
      await addArtifact(fresh, name, ['dev-a'])
      expect((await poll(fresh, d.token)).status).toBe(204)
      const first = await deploy(fresh, token, { artifact_name: name, devices: [d.id] })
      expect((await poll(fresh, d.token)).json.id).toBe(first)
      expect(
        (
          await fresh.call('PUT', `${MGMT}/deployments/${first}/status`, {
            token,
            body: { status: 'aborted' },
          })
        ).status,
      ).toBe(204)
      expect((await poll(fresh, d.token)).status).toBe(204)
      const second = await deploy(fresh, token, { name: 'second', artifact_name: name, devices: [d.id] })
      expect((await poll(fresh, d.token)).json.id).toBe(second)
    } finally {
      await fresh.close()
    }
  })

  test('401 without a valid device token; 400 without artifact_name or device_type', async () => {
    expect((await t.call('POST', NEXT, { body: { artifact_name: 'a', device_type: 'b' } })).status).toBe(401)
    expect(
      (await t.call('POST', NEXT, { token: admin, body: { artifact_name: 'a', device_type: 'b' } })).status,
    ).toBe(401)
    const d = await acceptedDevice(t, admin)
    expect((await t.call('POST', NEXT, { token: d.token, body: { artifact_name: 'a' } })).status).toBe(400)
    expect((await t.call('GET', `${NEXT}?device_type=dev-a`, { token: d.token })).status).toBe(400)
    const blank = await poll(t, d.token, { artifact_name: '', device_type: 'dev-a' })
    expect(blank.status).toBe(400)
    expect(blank.json.error).toContain('artifact_name: cannot be blank')
    const long = await poll(t, d.token, { artifact_name: 'x'.repeat(4097), device_type: 'dev-a' })
    expect(long.status).toBe(400)
  })
})

describe('a deployment for the device', () => {
  test('200 with the artifact, a fresh 24-hour download link and the artifact’s own device types', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('app')
    const artifact = await addArtifact(t, name, ['dev-a', 'dev-b'], { size: 5000 })
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    const res = await poll(t, d.token, {
      artifact_name: 'factory',
      device_type: 'dev-a',
      'rootfs-image.version': 'factory',
    })
    expect(res.status).toBe(200)
    expect(res.json).toEqual({
      id,
      artifact: {
        id: artifact.id,
        artifact_name: name,
        source: { uri: expect.any(String), expire: expect.any(String), method: 'GET' },
        device_types_compatible: ['dev-a', 'dev-b'],
      },
    })
    const uri = new URL(res.json.artifact.source.uri)
    expect(`${uri.origin}`).toBe(t.deps.config.storagePublicUrl)
    expect(uri.searchParams.get('filename')).toBe(`${name}.mender`)
    expect(t.deps.links.verify('GET', uri).key).toBe(artifact.id)
    expect(Date.parse(res.json.artifact.source.expire)).toBe(
      Math.floor(t.clock.now().getTime() / 1000) * 1000 + 24 * 3600 * 1000,
    )

    const deployment = await getDeployment(t, admin, id)
    expect(deployment.device_count).toBe(1)
    expect(deployment.statistics.total_size).toBe(5000)
    expect(deployment.status).toBe('pending')

    // Asking again (the device restarted, say) answers the same deployment with a new link; the size counts once.
    t.clock.advance(60)
    const again = await poll(t, d.token, { artifact_name: 'factory', device_type: 'dev-a' })
    expect(again.status).toBe(200)
    expect(again.json.id).toBe(id)
    expect(again.json.artifact.source.uri).not.toBe(res.json.artifact.source.uri)
    expect((await getDeployment(t, admin, id)).statistics.total_size).toBe(5000)
    expect((await getDeployment(t, admin, id)).device_count).toBe(1)
  })

  test('the v2 check and the GET check answer with the same semantics', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('app')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    const v2 = await t.call('POST', NEXT_V2, {
      token: d.token,
      body: {
        device_provides: {
          artifact_name: 'factory',
          device_type: 'dev-a',
          'rootfs-image.version': 'factory',
        },
        update_control_map: true,
      },
    })
    expect(v2.status).toBe(200)
    expect(v2.json.id).toBe(id)
    expect(v2.json.update_control_map).toBeUndefined()
    const get = await t.call('GET', `${NEXT}?artifact_name=factory&device_type=dev-a`, { token: d.token })
    expect(get.status).toBe(200)
    expect(get.json.id).toBe(id)
  })

  test('the oldest active deployment first; the next one once that is finished', async () => {
    const d = await acceptedDevice(t, admin)
    const first = uniqueName('first')
    const second = uniqueName('second')
    await addArtifact(t, first, ['dev-a'])
    await addArtifact(t, second, ['dev-a'])
    const older = await deploy(t, admin, { artifact_name: first, devices: [d.id] })
    const newer = await deploy(t, admin, { artifact_name: second, devices: [d.id] })
    const res = await poll(t, d.token)
    expect(res.json.id).toBe(older)
    // While it runs, the device keeps getting it.
    expect((await report(t, d.token, older, 'downloading')).status).toBe(204)
    expect((await poll(t, d.token)).json.id).toBe(older)
    await finish(d.token, older)
    const next = await poll(t, d.token, { artifact_name: first, device_type: 'dev-a' })
    expect(next.json.id).toBe(newer)
  })

  test('a deployment made while the device runs another comes after it', async () => {
    const d = await acceptedDevice(t, admin)
    const first = uniqueName('running')
    const later = uniqueName('later')
    await addArtifact(t, first, ['dev-a'])
    await addArtifact(t, later, ['dev-a'])
    const running = await deploy(t, admin, { artifact_name: first, devices: [d.id] })
    expect((await poll(t, d.token)).json.id).toBe(running)
    expect((await report(t, d.token, running, 'installing')).status).toBe(204)
    const made = await deploy(t, admin, { artifact_name: later, devices: [d.id] })
    expect((await poll(t, d.token)).json.id).toBe(running)
    await finish(d.token, running, 'failure')
    expect((await poll(t, d.token)).json.id).toBe(made)
  })

  test('a deployment the device finished is not handed out again while it stays active, until its history is deleted', async () => {
    const d = await acceptedDevice(t, admin)
    const other = await acceptedDevice(t, admin)
    const name = uniqueName('again')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id, other.id] })
    expect((await poll(t, d.token)).json.id).toBe(id)
    await finish(d.token, id)
    expect((await poll(t, d.token, { artifact_name: name, device_type: 'dev-a' })).status).toBe(204)
    expect(
      (await t.call('DELETE', `${MGMT}/deployments/devices/${d.id}/history`, { token: admin })).status,
    ).toBe(204)
    const res = await poll(t, d.token)
    expect(res.status).toBe(200)
    expect(res.json.id).toBe(id)
    // A device counts once towards device_count.
    expect((await getDeployment(t, admin, id)).device_count).toBe(1)
  })

  test('once every listed device has picked it up (device_count = max_devices), deleting history does not hand it out again', async () => {
    const d = await acceptedDevice(t, admin)
    const other = await acceptedDevice(t, admin)
    const name = uniqueName('full')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id, other.id] })
    expect((await poll(t, d.token)).json.id).toBe(id)
    expect((await poll(t, other.token)).json.id).toBe(id)
    await finish(d.token, id)
    expect(
      (await t.call('DELETE', `${MGMT}/deployments/devices/${d.id}/history`, { token: admin })).status,
    ).toBe(204)
    // As in Mender, a deployment whose device_count reached max_devices is skipped.
    expect((await poll(t, d.token, { artifact_name: name, device_type: 'dev-a' })).status).toBe(204)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('inprogress')
    expect(deployment.device_count).toBe(2)
  })

  test('aborting or decommissioning such a device leaves that full deployment alone, as the poll does', async () => {
    const name = uniqueName('full-end')
    await addArtifact(t, name, ['dev-a'])
    for (const end of ['abort', 'decommission'] as const) {
      const d = await acceptedDevice(t, admin)
      const other = await acceptedDevice(t, admin)
      const id = await deploy(t, admin, { artifact_name: name, devices: [d.id, other.id] })
      expect((await poll(t, d.token)).json.id).toBe(id)
      expect((await poll(t, other.token)).json.id).toBe(id)
      await finish(d.token, id)
      const history = `${MGMT}/deployments/devices/${d.id}/history`
      expect((await t.call('DELETE', history, { token: admin })).status).toBe(204)
      const path =
        end === 'abort' ? `${MGMT}/deployments/devices/${d.id}` : `/api/management/v2/devauth/devices/${d.id}`
      expect((await t.call('DELETE', path, { token: admin })).status).toBe(204)
      const deployment = await getDeployment(t, admin, id)
      expect(deployment.statistics.status).toMatchObject({
        success: 1,
        pending: 1,
        aborted: 0,
        decommissioned: 0,
      })
      expect(deployment.device_count).toBe(2)
      const rows = await t.call('GET', `${MGMT}/deployments/${id}/devices`, { token: admin })
      expect(rows.json.filter((row: { id: string }) => row.id === d.id)).toEqual([])
      // The other device is still on it.
      expect((await poll(t, other.token)).json.id).toBe(id)
      await finish(other.token, id)
    }
  })
})

describe('artifact choice', () => {
  test('the artifact of the device’s type; none: noartifact, 204, and the device is done with it', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('typed')
    const forB = await addArtifact(t, name, ['dev-b'])
    await addArtifact(t, name, ['dev-c'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    const res = await poll(t, d.token, { artifact_name: 'factory', device_type: 'dev-b' })
    expect(res.json.id).toBe(id)
    expect(res.json.artifact.id).toBe(forB.id)
    expect(res.json.artifact.device_types_compatible).toEqual(['dev-b'])

    const other = await acceptedDevice(t, admin)
    const none = uniqueName('typed')
    await addArtifact(t, none, ['dev-b'])
    const noneId = await deploy(t, admin, { artifact_name: none, devices: [other.id] })
    expect((await poll(t, other.token, { artifact_name: 'factory', device_type: 'dev-z' })).status).toBe(204)
    const deployment = await getDeployment(t, admin, noneId)
    expect(deployment.statistics.status.noartifact).toBe(1)
    expect(deployment.statistics.status.pending).toBe(0)
    expect(deployment.status).toBe('finished')
    expect(deployment.statistics.total_size).toBe(0)
    expect((await poll(t, other.token, { artifact_name: 'factory', device_type: 'dev-b' })).status).toBe(204)
  })

  test('an artifact uploaded after the deployment was made is handed out and joins its artifacts', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('late')
    const first = await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    const late = await addArtifact(t, name, ['dev-late'])
    const res = await poll(t, d.token, { artifact_name: 'factory', device_type: 'dev-late' })
    expect(res.json.artifact.id).toBe(late.id)
    expect((await getDeployment(t, admin, id)).artifacts).toEqual([first.id, late.id])
  })

  test('already-installed when the device runs that artifact (204), unless the deployment forces it', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('same')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    expect((await poll(t, d.token, { artifact_name: name, device_type: 'dev-a' })).status).toBe(204)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.statistics.status['already-installed']).toBe(1)
    expect(deployment.status).toBe('finished')
    expect(deployment.finished).toBeString()

    const forced = await deploy(t, admin, {
      name: 'forced',
      artifact_name: name,
      devices: [d.id],
      force_installation: true,
    })
    const res = await poll(t, d.token, { artifact_name: name, device_type: 'dev-a' })
    expect(res.status).toBe(200)
    expect(res.json.id).toBe(forced)
    expect((await getDeployment(t, admin, forced)).force_installation).toBe(true)
  })
})

describe('conflicting request data', () => {
  test('a different artifact name or device type mid-deployment: 409 and the device deployment fails', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('conflict')
    await addArtifact(t, name, ['dev-a', 'dev-b'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    expect((await poll(t, d.token)).status).toBe(200)
    expect((await report(t, d.token, id, 'downloading')).status).toBe(204)
    const res = await poll(t, d.token, { artifact_name: 'factory', device_type: 'dev-b' })
    expect(res.status).toBe(409)
    expect(res.json.error).toBe('Device provided conflicting request data')
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.statistics.status.failure).toBe(1)
    expect(deployment.statistics.status.downloading).toBe(0)
    expect(deployment.status).toBe('finished')
    expect((await poll(t, d.token, { artifact_name: 'factory', device_type: 'dev-b' })).status).toBe(204)
  })
})

describe('device lists are fixed when the deployment is made', () => {
  test('a device accepted after an all-devices deployment does not get it', async () => {
    const name = uniqueName('all')
    await addArtifact(t, name, ['dev-a'])
    const before = await acceptedDevice(t, admin)
    const id = await deploy(t, admin, { artifact_name: name, all_devices: true })
    const after = await acceptedDevice(t, admin)
    expect((await poll(t, before.token)).json.id).toBe(id)
    expect((await poll(t, after.token)).status).toBe(204)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.all_devices).toBe(true)
    expect(deployment.filter.terms).toEqual([
      { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' },
    ])
  })
})
