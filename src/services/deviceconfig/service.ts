import type { Deps } from '../../deps.ts'
import { BadRequestError, NotFoundError } from '../../gateway/errors.ts'
import type { DeploymentsService } from '../deployments/service.ts'
import {
  type ApiDeviceConfiguration,
  type Attributes,
  MAX_ATTRIBUTES,
  MAX_KEY_LENGTH,
  MAX_VALUE_LENGTH,
} from './model.ts'
import type { DeviceconfigStore } from './store.ts'

/** Device configuration (Mender's "configure" add-on): what operators set, what devices report, deploying it. */
export interface DeviceconfigService {
  /** Gives an accepted device its (empty) configuration; one it already has stays. */
  provisionDevice(tenantId: string, deviceId: string): Promise<void>
  /** Forgets a decommissioned device's configuration; a device without one is no error. */
  decommissionDevice(tenantId: string, deviceId: string): Promise<void>
  /** The device's configured, reported and deployment state; 404 when it has none. */
  getDevice(tenantId: string, deviceId: string): Promise<ApiDeviceConfiguration>
  /** What the device should run (the configured map); 404 when it has no configuration. */
  configuredFor(tenantId: string, deviceId: string): Promise<Attributes>
  /** Replaces the configured map (checked against Mender's limits). */
  setConfiguration(tenantId: string, deviceId: string, configured: Attributes): Promise<void>
  /** Stores what the device reports it runs (checked against Mender's limits). */
  reportConfiguration(tenantId: string, deviceId: string, reported: Attributes): Promise<void>
  /** Makes a configuration deployment of the configured map for the device; answers its id. 404 without configuration. */
  deploy(tenantId: string, deviceId: string, request: DeployRequest): Promise<{ deployment_id: string }>
  /** Deletes every device configuration of the tenant. */
  deleteTenant(tenantId: string): Promise<void>
}

export type DeployRequest = { retries?: number; update_control_map?: unknown }

/** What deviceconfig needs from deployments: a deployment carrying the configuration. */
export type DeviceconfigDeployments = Pick<DeploymentsService, 'createConfigurationDeployment'>

/** Mender's checks of one configuration map, with its messages. */
function checkAttributes(attributes: Attributes): void {
  const entries = Object.entries(attributes)
  if (entries.length > MAX_ATTRIBUTES) {
    throw new BadRequestError(
      `invalid request body: too many configuration attributes, maximum is ${MAX_ATTRIBUTES}`,
    )
  }
  for (const [key, value] of entries) {
    if (key.length === 0) throw new BadRequestError('invalid request body: key: cannot be blank.')
    if (key.length > MAX_KEY_LENGTH || typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) {
      throw new BadRequestError(
        `invalid request body: ${key.slice(0, 64)}: keys are 1 to ${MAX_KEY_LENGTH} characters, values strings of up to ${MAX_VALUE_LENGTH}.`,
      )
    }
  }
}

export function createDeviceconfigService(
  deps: Pick<Deps, 'stores' | 'clock' | 'ids'>,
  peers: { deployments: DeviceconfigDeployments },
  store: DeviceconfigStore = deps.stores.deviceconfig,
): DeviceconfigService {
  const { clock, ids } = deps

  async function requireDevice(tenantId: string, deviceId: string) {
    const device = await store.findDevice(tenantId, deviceId)
    if (!device) throw new NotFoundError('device does not exist')
    return device
  }

  return {
    provisionDevice: (tenantId, deviceId) => store.insertDevice(tenantId, deviceId, clock.now()),

    async decommissionDevice(tenantId, deviceId) {
      await store.deleteDevice(tenantId, deviceId)
    },

    async getDevice(tenantId, deviceId) {
      const device = await requireDevice(tenantId, deviceId)
      return {
        id: device.id,
        configured: device.configured,
        reported: device.reported,
        ...(device.deploymentId ? { deployment_id: device.deploymentId } : {}),
        updated_ts: device.updatedTs.toISOString(),
        ...(device.reportedTs ? { reported_ts: device.reportedTs.toISOString() } : {}),
      }
    },

    configuredFor: async (tenantId, deviceId) => (await requireDevice(tenantId, deviceId)).configured,

    async setConfiguration(tenantId, deviceId, configured) {
      checkAttributes(configured)
      await store.replaceConfigured(tenantId, deviceId, configured, clock.now())
    },

    async reportConfiguration(tenantId, deviceId, reported) {
      checkAttributes(reported)
      await store.replaceReported(tenantId, deviceId, reported, clock.now())
    },

    async deploy(tenantId, deviceId, request) {
      const device = await requireDevice(tenantId, deviceId)
      if (request.update_control_map !== undefined) {
        throw new BadRequestError('update_control_map: update control maps are not supported by this server')
      }
      const deploymentId = ids.uuid()
      await peers.deployments.createConfigurationDeployment(tenantId, {
        deploymentId,
        deviceId,
        name: `configuration-${deploymentId}`,
        configuration: device.configured,
        retries: request.retries ?? 0,
      })
      await store.setDeploymentId(tenantId, deviceId, deploymentId)
      return { deployment_id: deploymentId }
    },

    async deleteTenant(tenantId) {
      await store.deleteTenant(tenantId)
    },
  }
}
