import { unwindDepends } from '../../src/services/artifacts/depends.ts'
import type { ArtifactRow } from '../../src/services/artifacts/model.ts'
import type { Caller, Reply, TestApp } from '../helpers/app.ts'
import { acceptedDevice as acceptDevice, TestDevice } from '../helpers/device.ts'

export const MGMT = '/api/management/v1/deployments'
export const MGMT_V2 = '/api/management/v2/deployments'
export const NEXT = '/api/devices/v1/deployments/device/deployments/next'
export const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next'
let names = 0
/** A fresh artifact name per call, so that deployments of different tests never meet. */
export const uniqueName = (prefix: string) => `${prefix}-${++names}`

export const statusPath = (deploymentId: string) =>
  `/api/devices/v1/deployments/device/deployments/${deploymentId}/status`
export const logPath = (deploymentId: string) =>
  `/api/devices/v1/deployments/device/deployments/${deploymentId}/log`

/** An accepted device with a token, seeded the shared way (Ed25519: quick to generate). */
export const acceptedDevice = (t: Caller, admin: string, identity: Record<string, unknown> = {}) =>
  acceptDevice(t, admin, new TestDevice({ mac: crypto.randomUUID(), ...identity }, 'ed25519'))

/** `n` accepted devices, one after another. */
export async function acceptedDevices(t: TestApp, admin: string, n: number) {
  const devices: Awaited<ReturnType<typeof acceptedDevice>>[] = []
  for (let i = 0; i < n; i++) devices.push(await acceptedDevice(t, admin))
  return devices
}

/** An artifact as the upload would record it (the file itself is not needed to hand out a link). */
export async function addArtifact(
  t: TestApp,
  name: string,
  deviceTypes: string[],
  options: { size?: number; extraDepends?: Record<string, string> } = {},
): Promise<ArtifactRow> {
  const row: ArtifactRow = {
    id: crypto.randomUUID(),
    tenantId: '',
    name,
    description: '',
    deviceTypes,
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [{ type_info: { type: 'single-file' }, files: [] }] as unknown as ArtifactRow['updates'],
    provides: { artifact_name: name },
    depends: { device_type: deviceTypes, ...options.extraDepends },
    clearsProvides: null,
    size: options.size ?? 4096,
    modified: t.clock.now(),
  }
  const result = await t.deps.stores.artifacts.insertArtifact(row, unwindDepends(row.depends))
  if (!result.inserted) throw new Error(`artifact ${name} conflicts`)
  return row
}

/** Creates a deployment through the API; answers its id. */
export async function deploy(t: Caller, admin: string, body: Record<string, unknown>): Promise<string> {
  const res = await t.call('POST', `${MGMT}/deployments`, {
    token: admin,
    body: { name: 'rollout', ...body },
  })
  if (res.status !== 201) throw new Error(`deployment not created: ${res.status} ${res.text}`)
  return res.headers.get('location')!.split('/').pop()!
}

/** The device's update check (v1 POST with the flat provides body the Go client sends). */
export const poll = (
  t: Caller,
  token: string,
  provides: Record<string, string> = { artifact_name: 'factory', device_type: 'dev-a' },
): Promise<Reply> => t.call('POST', NEXT, { token, body: provides })

export const report = (t: Caller, token: string, deploymentId: string, status: string, substate?: string) =>
  t.call('PUT', statusPath(deploymentId), { token, body: { status, ...(substate ? { substate } : {}) } })

export const getDeployment = async (t: Caller, admin: string, id: string) =>
  (await t.call('GET', `${MGMT}/deployments/${id}`, { token: admin })).json
