import type { Clock } from '../../clock.ts'
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import { type Ids, isUuid, requireUuid } from '../../ids.ts'
import { type ApiArtifact, toApiArtifact } from '../artifacts/model.ts'
import type { ArtifactsService } from '../artifacts/service.ts'
import type { InventoryService } from '../inventory/service.ts'
import { createDeploymentMaker } from './create.ts'
import { formatLog, toApiDeployment, toApiDeviceDeployment } from './render.ts'
import {
  checkInput,
  type DeploymentInput,
  type DynamicDeploymentInput,
  idScope,
  type ListInput,
  parseListInput,
  parseStatusFilter,
  type StatusChange,
} from './requests.ts'
import type { Stats } from './status.ts'
import type { DeploymentChange } from './store.changes.ts'
import type { DeploymentRow } from './store.deployments.ts'
import type { DeviceDeploymentRow } from './store.devices.ts'
import { statsOf } from './store.stats.ts'
import type { DeploymentsStore } from './store.ts'

/** What deployments needs from artifacts: the artifacts a deployment may hand out. */
export type DeploymentsArtifacts = Pick<ArtifactsService, 'findArtifactsByName' | 'findArtifactById'>

/** What deployments needs from inventory: the accepted devices (of a group), a device's group, device search. */
export type DeploymentsInventory = Pick<
  InventoryService,
  'listAcceptedDeviceIds' | 'getDevice' | 'searchDevices' | 'getSavedFilter' | 'matchingDeviceIds'
>

/** The operator's status change as the store takes it; 400 for a status that is none of the three. */
function deploymentChange(change: StatusChange): DeploymentChange {
  if (change.status === 'aborted') return { status: 'aborted' }
  if (change.status === 'paused') return { status: 'paused', reason: change.reason || 'paused by hand' }
  if (change.status === 'resumed') return { status: 'resumed', override: change.override === true }
  throw new BadRequestError('Unexpected deployment status')
}

/** The operator's API: making, listing, inspecting and aborting deployments; a device's history. */
export function createManagementApi(parts: {
  store: DeploymentsStore
  artifacts: DeploymentsArtifacts
  inventory: DeploymentsInventory
  clock: Clock
  ids: Ids
}) {
  const { store, artifacts, inventory, clock, ids } = parts
  const make = createDeploymentMaker({ store, artifacts, clock, ids })

  /** The phase ids of phased deployments, each deployment's phases read once. */
  function phaseIds() {
    const byDeployment = new Map<string, string[]>()
    return async (row: DeviceDeploymentRow, deployment?: DeploymentRow): Promise<string | undefined> => {
      if (deployment && deployment.phaseCount === 0) return undefined
      let ids = byDeployment.get(row.deploymentId)
      if (!ids) {
        ids = (await store.listPhases(row.tenantId, row.deploymentId)).map((phase) => phase.id)
        byDeployment.set(row.deploymentId, ids)
      }
      return ids[row.phase]
    }
  }

  /** Device deployments with the artifact each was given (Mender's `image`), each artifact read once. */
  async function withImages(rows: DeviceDeploymentRow[], deployment?: DeploymentRow) {
    const images = new Map<string, ApiArtifact | undefined>()
    const phaseOf = phaseIds()
    const rendered = []
    for (const row of rows) {
      const id = row.artifactId
      if (id !== null && !images.has(id)) {
        const artifact = await artifacts.findArtifactById(row.tenantId, id)
        images.set(id, artifact && toApiArtifact(artifact))
      }
      const image = id === null ? undefined : images.get(id)
      rendered.push(toApiDeviceDeployment(row, image, await phaseOf(row, deployment)))
    }
    return rendered
  }

  const render = async (row: DeploymentRow, withLog = false) =>
    // The device list is read only where the answer shows it: a deployment made for listed devices.
    toApiDeployment(row, row.target === 'devices' ? await store.listDeviceIds(row.tenantId, row.id) : [], {
      phases: row.phaseCount > 0 ? await store.listPhases(row.tenantId, row.id) : undefined,
      log: withLog ? await store.listLog(row.tenantId, row.id) : undefined,
    })

  async function requireDeployment(
    tenantId: string,
    id: string,
    message = 'Deployment not found',
  ): Promise<DeploymentRow> {
    requireUuid(id)
    const row = await store.findDeployment(tenantId, id)
    if (!row) throw new NotFoundError(message)
    return row
  }

  /** The static group of the one device of a single-device deployment, as Mender records it. */
  async function groupsOf(tenantId: string, deviceId: string): Promise<string[]> {
    try {
      const { device } = await inventory.getDevice(tenantId, deviceId)
      const group = device.attributes.find((a) => a.scope === 'system' && a.name === 'group')?.value
      return typeof group === 'string' ? [group] : []
    } catch (err) {
      if (err instanceof NotFoundError) return []
      throw err
    }
  }

  async function findDeployments(tenantId: string, input: ListInput, paging: Paging) {
    const scope = idScope(input)
    const { query, none } = parseListInput(input)
    if (none) return { deployments: [], total: 0, hasNext: false }
    const page = async () => {
      const rows = await store.listDeployments(tenantId, query, pageOffset(paging), paging.perPage + 1)
      return { rows, total: await store.countDeployments(tenantId, query) }
    }
    let { rows, total } = await page()
    const first = input.name?.[0]
    if (total === 0 && first !== undefined && scope && input.id_attribute) {
      // No deployment has that name: it may be a device's, whose deployments are wanted.
      const found = await inventory.searchDevices(tenantId, {
        filters: [{ scope, name: input.id_attribute, op: '$eq', value: first }],
        sort: [],
        page: 1,
        perPage: 1,
      })
      const deviceId = found.devices[0]?.id
      if (deviceId === undefined) return { deployments: [], total: 0, hasNext: false }
      query.names = undefined
      query.forDevice = deviceId
      ;({ rows, total } = await page())
    }
    const deployments = []
    for (const row of rows.slice(0, paging.perPage)) deployments.push(await render(row))
    return {
      deployments,
      total,
      hasNext: rows.length > paging.perPage,
    }
  }

  return {
    async createDeployment(tenantId: string, input: DeploymentInput): Promise<string> {
      checkInput(input)
      const deviceIds =
        input.group !== undefined
          ? await inventory.listAcceptedDeviceIds(tenantId, input.group)
          : input.all_devices
            ? await inventory.listAcceptedDeviceIds(tenantId)
            : [...new Set(input.devices)]
      if (deviceIds.length === 0) throw new BadRequestError('No devices for the deployment')
      const groups =
        input.group !== undefined
          ? [input.group]
          : deviceIds.length === 1 && !input.all_devices
            ? await groupsOf(tenantId, deviceIds[0]!)
            : []
      return make(tenantId, input, deviceIds, {
        groups,
        target: input.group !== undefined ? 'group' : input.all_devices ? 'all' : 'devices',
        maxDevices: deviceIds.length,
        dynamic: false,
        filter: null,
        initialDeviceCount: deviceIds.length,
      })
    },

    async createDynamicDeployment(tenantId: string, input: DynamicDeploymentInput): Promise<string> {
      checkInput(input, true)
      let filter: Awaited<ReturnType<DeploymentsInventory['getSavedFilter']>>
      try {
        filter = await inventory.getSavedFilter(tenantId, input.filter_id)
      } catch (err) {
        if (err instanceof NotFoundError) throw new BadRequestError('filter_id: no saved filter has this id')
        throw err
      }
      const deviceIds = await inventory.matchingDeviceIds(tenantId, filter.id)
      return make(tenantId, input, deviceIds, {
        groups: [],
        target: 'filter',
        maxDevices: input.max_devices ?? 0,
        dynamic: true,
        filter,
        initialDeviceCount: deviceIds.length,
      })
    },

    listDeployments: findDeployments,

    getDeployment: async (tenantId: string, id: string) =>
      render(await requireDeployment(tenantId, id, 'Resource not found'), true),

    getStatistics: async (tenantId: string, id: string): Promise<Stats> =>
      statsOf(await requireDeployment(tenantId, id, 'Resource not found')),

    async listStatistics(
      tenantId: string,
      ids: string[] | undefined,
    ): Promise<{ id: string; stats: Stats }[] | Record<string, never>> {
      if (!ids || ids.length === 0) return {}
      const bad = ids.findIndex((id) => !isUuid(id))
      if (bad >= 0) throw new BadRequestError(`deployment_ids: (${bad}: must be a valid UUID.)`)
      const rows = await store.findDeploymentsByIds(tenantId, ids)
      if (rows.length === 0) throw new NotFoundError('Deployment not found')
      return rows.map((row) => ({ id: row.id, stats: statsOf(row) }))
    },

    /** Every device deployment of a deployment (Mender's unpaged list). */
    async listDeviceDeployments(tenantId: string, id: string) {
      const deployment = await requireDeployment(tenantId, id)
      return withImages(await store.listForDeployment(tenantId, id, undefined), deployment)
    },

    async pageDeviceDeployments(tenantId: string, id: string, status: string | undefined, paging: Paging) {
      const deployment = await requireDeployment(tenantId, id)
      const phaseOf = phaseIds()
      const codes = parseStatusFilter(status)
      const rows = await store.listForDeployment(tenantId, id, codes, {
        offset: pageOffset(paging),
        limit: paging.perPage,
      })
      const devices = []
      for (const row of rows)
        devices.push(toApiDeviceDeployment(row, undefined, await phaseOf(row, deployment)))
      return { devices, total: await store.countForDeployment(tenantId, id, codes) }
    },

    deviceList: async (tenantId: string, id: string): Promise<string[]> =>
      store.listDeviceIds(tenantId, (await requireDeployment(tenantId, id, 'Resource not found')).id),

    async deviceLog(tenantId: string, deploymentId: string, deviceId: string): Promise<string> {
      const messages = await store.findLog(tenantId, deploymentId, deviceId)
      if (!messages) throw new NotFoundError('Resource not found')
      return formatLog(messages)
    },

    async changeDeploymentStatus(tenantId: string, id: string, change: StatusChange): Promise<void> {
      requireUuid(id)
      const outcome = await store.changeStatus(tenantId, id, deploymentChange(change))
      if (outcome === 'done') return
      if (outcome === 'not-found') throw new NotFoundError('Deployment not found')
      if (outcome === 'finished') throw new UnprocessableError('Deployment already finished')
      if (outcome === 'already-paused') throw new ConflictError('Deployment already paused')
      if (outcome === 'not-paused') throw new ConflictError('Deployment is not paused')
      throw new ConflictError(
        `Deployment paused by its failure gate (${outcome.tripped}): resume with "override": true`,
      )
    },

    async deviceHistory(tenantId: string, deviceId: string, status: string | undefined, paging: Paging) {
      const codes = parseStatusFilter(status)
      const rows = await store.listForDevice(tenantId, deviceId, codes, pageOffset(paging), paging.perPage)
      const deploymentIds = [...new Set(rows.map((row) => row.deploymentId))]
      const byId = new Map((await store.findDeploymentsByIds(tenantId, deploymentIds)).map((d) => [d.id, d]))
      const rendered = await withImages(rows)
      const items = []
      for (const [i, row] of rows.entries()) {
        const deployment = byId.get(row.deploymentId)
        items.push({
          id: row.id,
          ...(deployment ? { deployment: await render(deployment) } : {}),
          device: rendered[i]!,
        })
      }
      return { items, total: await store.countForDevice(tenantId, deviceId, codes) }
    },

    abortDeviceDeployments: (tenantId: string, deviceId: string): Promise<void> =>
      store.endForDevice(tenantId, deviceId, 'aborted'),

    deleteDeviceHistory: (tenantId: string, deviceId: string): Promise<void> =>
      store.deleteHistory(tenantId, deviceId, clock.now()),

    /** The device is gone: its unfinished and not yet picked up deployments become `decommissioned`. */
    markDeviceDecommissioned: (tenantId: string, deviceId: string): Promise<void> =>
      store.endForDevice(tenantId, deviceId, 'decommissioned'),
  }
}
