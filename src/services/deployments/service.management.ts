import type { Clock } from '../../clock.ts'
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import { type Ids, isUuid, requireUuid } from '../../ids.ts'
import { type ApiArtifact, toApiArtifact } from '../artifacts/model.ts'
import type { ArtifactsService } from '../artifacts/service.ts'
import type { InventoryService } from '../inventory/service.ts'
import { createDeploymentMaker } from './create.ts'
import type { Gates } from './gates.ts'
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
import type { DeviceDeploymentStatus, Stats } from './status.ts'
import type { DeviceDeploymentRow, DeviceDeploymentsStore } from './store.devices.ts'
import type { RolloutStore } from './store.rollout.ts'
import { type DeploymentRow, type DeploymentsStore, statsOf } from './store.ts'
import type { Transitions } from './transitions.ts'

/** What deployments needs from inventory: the accepted devices (of a group), a device's group, device search. */
/** What deployments needs from artifacts: the artifacts a deployment may hand out. */
export type DeploymentsArtifacts = Pick<ArtifactsService, 'findArtifactsByName' | 'findArtifactById'>

/** What deployments needs from inventory: the accepted devices (of a group), a device's group, device search. */
export type DeploymentsInventory = Pick<
  InventoryService,
  'listAcceptedDeviceIds' | 'getDevice' | 'searchDevices' | 'getSavedFilter' | 'matchingDeviceIds'
>

const MAX_STATISTICS_IDS = 100

/** The operator's API: making, listing, inspecting and aborting deployments; a device's history. */
export function createManagementApi(parts: {
  store: DeploymentsStore
  devices: DeviceDeploymentsStore
  rollout: RolloutStore
  gates: Gates
  artifacts: DeploymentsArtifacts
  transitions: Transitions
  inventory: DeploymentsInventory
  clock: Clock
  ids: Ids
}) {
  const { store, devices, rollout, gates, artifacts, transitions, inventory, clock, ids } = parts
  const make = createDeploymentMaker({ store, rollout, gates, artifacts, clock, ids })

  /** The phase ids of phased deployments, each deployment's phases read once. */
  function phaseIds() {
    const byDeployment = new Map<string, string[]>()
    return (row: DeviceDeploymentRow, deployment?: DeploymentRow): string | undefined => {
      if (deployment && deployment.phaseCount === 0) return undefined
      let ids = byDeployment.get(row.deploymentId)
      if (!ids) {
        ids = rollout.listPhases(row.tenantId, row.deploymentId).map((phase) => phase.id)
        byDeployment.set(row.deploymentId, ids)
      }
      return ids[row.phase]
    }
  }

  /** Device deployments with the artifact each was given (Mender's `image`), each artifact read once. */
  function withImages(rows: DeviceDeploymentRow[], deployment?: DeploymentRow) {
    const images = new Map<string, ApiArtifact | undefined>()
    const phaseOf = phaseIds()
    return rows.map((row) => {
      const id = row.artifactId
      if (id !== null && !images.has(id)) {
        const artifact = artifacts.findArtifactById(row.tenantId, id)
        images.set(id, artifact && toApiArtifact(artifact))
      }
      return toApiDeviceDeployment(row, id === null ? undefined : images.get(id), phaseOf(row, deployment))
    })
  }

  const render = (row: DeploymentRow, withLog = false) =>
    toApiDeployment(row, () => store.listDeviceIds(row.tenantId, row.id), {
      phases: row.phaseCount > 0 ? rollout.listPhases(row.tenantId, row.id) : undefined,
      log: withLog ? rollout.listLog(row.tenantId, row.id) : undefined,
    })

  function requireDeployment(tenantId: string, id: string, message = 'Deployment not found'): DeploymentRow {
    requireUuid(id)
    const row = store.findDeployment(tenantId, id)
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

  /**
   * Ends a device's part in every active deployment listing it: its unfinished device deployments,
   * and those it has not picked up yet (created after its newest finished one), get `status`.
   */
  function endForDevice(tenantId: string, deviceId: string, status: DeviceDeploymentStatus): void {
    store.transaction(() => {
      // Read before the active ones end: ending them must not move the device's "newest finished".
      const unstarted = devices.unstartedDeployments(tenantId, deviceId)
      const ids = unstarted.map((entry) => entry.id)
      const byId = new Map(store.findDeploymentsByIds(tenantId, ids).map((d) => [d.id, d]))
      for (const row of devices.listActiveForDevice(tenantId, deviceId)) transitions.setStatus(row, status)
      for (const { id, phase } of unstarted) {
        const deployment = byId.get(id)
        if (deployment) transitions.create(deployment, deviceId, status, phase)
      }
    })
  }

  async function findDeployments(tenantId: string, input: ListInput, paging: Paging) {
    const scope = idScope(input)
    const { query, none } = parseListInput(input)
    if (none) return { deployments: [], total: 0, hasNext: false }
    const page = () => {
      const rows = store.listDeployments(tenantId, query, pageOffset(paging), paging.perPage + 1)
      return { rows, total: store.countDeployments(tenantId, query) }
    }
    let { rows, total } = page()
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
      ;({ rows, total } = page())
    }
    return {
      deployments: rows.slice(0, paging.perPage).map((row) => render(row)),
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

    getDeployment: (tenantId: string, id: string) =>
      render(requireDeployment(tenantId, id, 'Resource not found'), true),

    getStatistics: (tenantId: string, id: string): Stats =>
      statsOf(requireDeployment(tenantId, id, 'Resource not found')),

    listStatistics(
      tenantId: string,
      ids: string[] | undefined,
    ): { id: string; stats: Stats }[] | Record<string, never> {
      if (!ids || ids.length === 0) return {}
      if (ids.length > MAX_STATISTICS_IDS) {
        throw new BadRequestError(`deployment_ids: the length must be between 1 and ${MAX_STATISTICS_IDS}.`)
      }
      const bad = ids.findIndex((id) => !isUuid(id))
      if (bad >= 0) throw new BadRequestError(`deployment_ids: (${bad}: must be a valid UUID.)`)
      const rows = store.findDeploymentsByIds(tenantId, ids)
      if (rows.length === 0) throw new NotFoundError('Deployment not found')
      return rows.map((row) => ({ id: row.id, stats: statsOf(row) }))
    },

    /** Every device deployment of a deployment (Mender's unpaged list). */
    listDeviceDeployments(tenantId: string, id: string) {
      const deployment = requireDeployment(tenantId, id)
      return withImages(devices.listForDeployment(tenantId, id, undefined), deployment)
    },

    pageDeviceDeployments(tenantId: string, id: string, status: string | undefined, paging: Paging) {
      const deployment = requireDeployment(tenantId, id)
      const phaseOf = phaseIds()
      const codes = parseStatusFilter(status)
      const rows = devices.listForDeployment(tenantId, id, codes, {
        offset: pageOffset(paging),
        limit: paging.perPage,
      })
      return {
        devices: rows.map((row) => toApiDeviceDeployment(row, undefined, phaseOf(row, deployment))),
        total: devices.countForDeployment(tenantId, id, codes),
      }
    },

    deviceList: (tenantId: string, id: string): string[] =>
      store.listDeviceIds(tenantId, requireDeployment(tenantId, id, 'Resource not found').id),

    deviceLog(tenantId: string, deploymentId: string, deviceId: string): string {
      const messages = store.findLog(tenantId, deploymentId, deviceId)
      if (!messages) throw new NotFoundError('Resource not found')
      return formatLog(messages)
    },

    changeDeploymentStatus(tenantId: string, id: string, change: StatusChange): void {
      requireUuid(id)
      const { status } = change
      if (status !== 'aborted' && status !== 'paused' && status !== 'resumed') {
        throw new BadRequestError('Unexpected deployment status')
      }
      store.transaction(() => {
        const row = store.findDeployment(tenantId, id)
        if (!row) throw new NotFoundError('Deployment not found')
        if (row.finished) throw new UnprocessableError('Deployment already finished')
        if (status === 'aborted') {
          gates.abort(tenantId, id)
          return
        }
        if (status === 'paused') {
          if (row.pausedAt) throw new ConflictError('Deployment already paused')
          gates.pause(tenantId, id, change.reason || 'paused by hand')
          return
        }
        if (!row.pausedAt) throw new ConflictError('Deployment is not paused')
        if (row.gateTripped && !change.override) {
          throw new ConflictError(
            `Deployment paused by its failure gate (${row.pauseReason}): resume with "override": true`,
          )
        }
        gates.resume(tenantId, id, row.gateTripped)
      })
    },

    deviceHistory(tenantId: string, deviceId: string, status: string | undefined, paging: Paging) {
      const codes = parseStatusFilter(status)
      const rows = devices.listForDevice(tenantId, deviceId, codes, pageOffset(paging), paging.perPage)
      const byId = new Map(
        store
          .findDeploymentsByIds(tenantId, [...new Set(rows.map((row) => row.deploymentId))])
          .map((d) => [d.id, d]),
      )
      const rendered = withImages(rows)
      const items = rows.map((row, i) => {
        const deployment = byId.get(row.deploymentId)
        return {
          id: row.id,
          ...(deployment ? { deployment: render(deployment) } : {}),
          device: rendered[i]!,
        }
      })
      return { items, total: devices.countForDevice(tenantId, deviceId, codes) }
    },

    abortDeviceDeployments: (tenantId: string, deviceId: string): void =>
      endForDevice(tenantId, deviceId, 'aborted'),

    deleteDeviceHistory(tenantId: string, deviceId: string): void {
      devices.deleteHistory(tenantId, deviceId, clock.now())
    },

    /** The device is gone: its unfinished and not yet picked up deployments become `decommissioned`. */
    markDeviceDecommissioned: (tenantId: string, deviceId: string): void =>
      endForDevice(tenantId, deviceId, 'decommissioned'),
  }
}
