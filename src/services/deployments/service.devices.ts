import { BadRequestError, ConflictError, NotFoundError } from '../../gateway/errors.ts'
import type { Links } from '../../storage/links.ts'
import { type ArtifactRow, artifactBlobKey } from '../artifacts/model.ts'
import type { createConfigurationArtifacts } from './configuration.ts'
import type { Instructions, NextRequest } from './model.ts'
import type { createSelection } from './selection.ts'
import { DEVICE_REPORTED_STATUSES, type DeviceDeploymentStatus } from './status.ts'
import type { DeploymentRow } from './store.deployments.ts'
import type { DeploymentsStore } from './store.ts'
import type { LogMessage } from './tables.ts'

/** Mender hands out download links valid for a day. */
const DOWNLOAD_LINK_TTL_SECONDS = 24 * 60 * 60
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Blank values are refused (the route's schema bounds their length). */
function checkNextRequest(request: NextRequest): void {
  const problems: string[] = []
  for (const field of ['artifact_name', 'device_type'] as const) {
    if (request[field].length === 0) problems.push(`${field}: cannot be blank`)
  }
  for (const [key, value] of Object.entries(request.artifact_provides ?? {})) {
    if (value.length === 0) problems.push(`artifact_provides: (${key}: cannot be blank)`)
  }
  if (problems.length > 0) throw new BadRequestError(`${problems.join('; ')}.`)
}

function checkLog(messages: readonly LogMessage[]): LogMessage[] {
  if (messages.length === 0) throw new BadRequestError('Invalid deployment log: no messages')
  return messages.map((m, i) => {
    const invalid = (what: string) => new BadRequestError(`Invalid deployment log: messages.${i}: ${what}`)
    if (!RFC3339.test(m.timestamp) || Number.isNaN(Date.parse(m.timestamp))) {
      throw invalid('timestamp must be an RFC 3339 time')
    }
    if (m.level === '') throw invalid('level: cannot be blank')
    if (m.message === '') throw invalid('message: cannot be blank')
    // Kept at Mender's precision (milliseconds, UTC), which is also what its log lines print.
    return { timestamp: new Date(m.timestamp).toISOString(), level: m.level, message: m.message }
  })
}

/** The device API: asking for an update, reporting status, uploading a log. */
export function createDeviceApi(parts: {
  store: Pick<DeploymentsStore, 'reportStatus' | 'saveLog'>
  selectDeployment: ReturnType<typeof createSelection>
  links: Links
  configurations: ReturnType<typeof createConfigurationArtifacts>
}) {
  const { store, selectDeployment, links, configurations } = parts

  async function instructions(
    tenantId: string,
    deploymentId: string,
    artifact: ArtifactRow,
  ): Promise<Instructions> {
    // A fresh link on every call: a device that retries after a day still gets a working one.
    const link = await links.download(artifactBlobKey(tenantId, artifact.id), {
      filename: `${artifact.name}.mender`,
      ttlSeconds: DOWNLOAD_LINK_TTL_SECONDS,
    })
    return {
      id: deploymentId,
      artifact: {
        id: artifact.id,
        artifact_name: artifact.name,
        source: { uri: link.url, expire: link.expires.toISOString(), method: 'GET' },
        device_types_compatible: artifact.deviceTypes,
      },
    }
  }

  /** A configuration deployment's instructions: its artifact is made for the device's type. */
  async function configurationInstructions(
    deployment: DeploymentRow,
    deviceId: string,
    deviceType: string,
  ): Promise<Instructions> {
    const link = await configurations.link(deployment, deviceType, DOWNLOAD_LINK_TTL_SECONDS)
    return {
      id: deployment.id,
      artifact: {
        // Made on demand, it has no id of its own: Mender names it by deployment and device.
        id: `${deployment.id}${deviceId}`,
        artifact_name: deployment.artifactName,
        source: { uri: link.url, expire: link.expires.toISOString(), method: 'GET' },
        device_types_compatible: [deviceType],
      },
    }
  }

  return {
    async nextDeployment(
      tenantId: string,
      deviceId: string,
      request: NextRequest,
    ): Promise<Instructions | undefined> {
      checkNextRequest(request)
      const selection = await selectDeployment(tenantId, deviceId, request)
      if (selection.kind === 'conflict') throw new ConflictError('Device provided conflicting request data')
      if (selection.kind === 'none') return undefined
      if (selection.kind === 'configure') {
        return configurationInstructions(selection.deployment, deviceId, request.device_type)
      }
      return instructions(tenantId, selection.deploymentId, selection.artifact)
    },

    async reportStatus(
      tenantId: string,
      deviceId: string,
      deploymentId: string,
      status: string,
      substate?: string,
    ): Promise<void> {
      if (!(DEVICE_REPORTED_STATUSES as readonly string[]).includes(status)) {
        throw new BadRequestError(`status: must be a valid value`)
      }
      const outcome = await store.reportStatus(
        tenantId,
        deviceId,
        deploymentId,
        status as DeviceDeploymentStatus,
        substate,
      )
      if (outcome === 'not-found') throw new NotFoundError('Resource not found')
      if (outcome === 'aborted') throw new ConflictError('Deployment aborted')
      if (outcome === 'decommissioned') throw new ConflictError('Device decommissioned')
    },

    async saveLog(
      tenantId: string,
      deviceId: string,
      deploymentId: string,
      messages: readonly LogMessage[],
    ): Promise<void> {
      const checked = checkLog(messages)
      if (!(await store.saveLog(tenantId, deploymentId, deviceId, checked))) {
        throw new NotFoundError('Deployment not found')
      }
    },
  }
}
