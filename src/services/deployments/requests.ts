import { BadRequestError } from '../../gateway/errors.ts'
import type { NewDeployment } from './model.ts'
import { policyProblems } from './policy.ts'
import { type DeploymentStatus, statusFilterCodes } from './status.ts'
import type { DeploymentQuery } from './store.query.ts'
import type { DeploymentType } from './tables.ts'

/** The checks and parsing of the management requests, as Mender makes them. */

const invalidDefinition = (what: string) =>
  new BadRequestError(`Validating request body: Invalid deployments definition: ${what}`)

/** A change of a deployment's status by the operator (`PUT .../status`). */
export type StatusChange = { status: string; override?: boolean; reason?: string }

export type DeploymentInput = NewDeployment & {
  group?: string
  groupDevices?: unknown
  groupAllDevices?: unknown
}

/** A v2 deployment to the devices of a saved filter. */
export type DynamicDeploymentInput = DeploymentInput & { filter_id: string; max_devices?: number }

/**
 * The request's own checks, in Mender's order: fields first, then which devices it names (not for
 * a dynamic deployment: its filter names them).
 */
export function checkInput(input: DeploymentInput, dynamic = false): void {
  if (input.update_control_map !== undefined) {
    // Accepting it would promise pauses that Mender's client 4.0 and later never makes.
    throw new BadRequestError(
      'update_control_map: not supported (update control maps were removed from the Mender client in 4.0); use policy or a pause instead',
    )
  }
  const problems: string[] = policyProblems(input.policy)
  // Lengths are bounded by the route's schema; blank values are refused here, with the others.
  if (input.name === '') problems.push('name: cannot be blank')
  if (input.artifact_name === '') problems.push('artifact_name: cannot be blank')
  const blank = (input.devices ?? []).indexOf('')
  if (blank >= 0) problems.push(`devices: (${blank}: cannot be blank.)`)
  if (problems.length > 0) throw new BadRequestError(`Validating request body: ${problems.join('; ')}.`)
  if (dynamic) return
  if (input.group !== undefined) {
    const devicesGiven =
      input.groupDevices !== undefined &&
      !(Array.isArray(input.groupDevices) && input.groupDevices.length === 0)
    const allGiven = input.groupAllDevices !== undefined && input.groupAllDevices !== false
    if (devicesGiven || allGiven)
      throw invalidDefinition('a group deployment takes neither devices nor all_devices')
    return
  }
  const devices = input.devices?.length ?? 0
  if (devices === 0 && !input.all_devices)
    throw invalidDefinition('provide list of devices or set all_devices flag')
  if (devices > 0 && input.all_devices)
    throw invalidDefinition('give either a list of devices or all_devices, not both')
}

/** Identical requests (same name, artifact, resolved device list and flags) hash alike. */
export function checksumOf(input: DeploymentInput, devices: string[]): string {
  const definition = {
    name: input.name,
    artifact_name: input.artifact_name,
    devices,
    ...(input.all_devices ? { all_devices: true } : {}),
    ...(input.force_installation ? { force_installation: true } : {}),
  }
  return new Bun.CryptoHasher('sha256').update(JSON.stringify(definition)).digest('hex')
}

export function parseStatusFilter(status: string | undefined): number[] | undefined {
  if (status === undefined || status === '') return undefined
  const codes = statusFilterCodes(status)
  if (!codes) throw new BadRequestError('status: must be a valid value')
  return codes
}

export type ListInput = {
  status?: string
  type?: string
  search?: string
  created_before?: number
  created_after?: number
  sort?: string
  id?: string[]
  name?: string[]
  id_attribute?: string
  id_scope?: string
}

/** The statuses a list may filter on (a Map: a query value such as `constructor` names nothing). */
const KNOWN_STATUSES = new Map<string, DeploymentStatus>([
  ['scheduled', 'scheduled'],
  ['pending', 'pending'],
  ['inprogress', 'inprogress'],
  ['finished', 'finished'],
  ['aborted', 'finished'],
])

/** The list queries' own parameters, checked as Mender checks them. */
export function parseListInput(input: ListInput): { query: DeploymentQuery; none: boolean } {
  const sort = (input.sort ?? '').toLowerCase()
  if (sort !== '' && sort !== 'asc' && sort !== 'desc') {
    throw new BadRequestError('invalid sort: must be one of "asc" or "desc"')
  }
  let status: DeploymentStatus | undefined
  if (input.status !== undefined && input.status !== '') {
    status = KNOWN_STATUSES.get(input.status)
    if (!status) throw new BadRequestError(`unknown status ${input.status}`)
  }
  if (
    input.type !== undefined &&
    input.type !== '' &&
    input.type !== 'software' &&
    input.type !== 'configuration'
  ) {
    throw new BadRequestError(`unknown deployment type ${input.type}`)
  }
  const seconds = (value: number | undefined) => (value === undefined ? undefined : new Date(value * 1000))
  return {
    query: {
      ids: input.id,
      names: input.name,
      search: input.search || undefined,
      status,
      createdAfter: seconds(input.created_after),
      createdBefore: seconds(input.created_before),
      sort: sort === 'asc' ? 'asc' : 'desc',
      type: input.type ? (input.type as DeploymentType) : undefined,
    },
    none: false,
  }
}

/** v2's fallback lookup: the scope of `id_attribute` (tags for a device's name, identity otherwise). */
export function idScope(input: ListInput): string | undefined {
  if (input.id_scope && !input.id_attribute) throw new BadRequestError('id_scope requires id_attribute')
  if (!input.id_attribute) return undefined
  const scope = input.id_scope || (input.id_attribute === 'name' ? 'tags' : 'identity')
  if (!['identity', 'inventory', 'tags'].includes(scope)) {
    throw new BadRequestError(`invalid id_scope "${scope}": must be identity, inventory or tags`)
  }
  return scope
}
